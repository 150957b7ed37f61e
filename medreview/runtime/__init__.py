"""The app's runtime, without Qt: executors (the one database thread, a work pool, an inline
one for tests) and the change bus. Screens and the CLI use it; it knows nothing of either."""
