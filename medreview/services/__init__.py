"""Use-cases shared by the command line and the app. Results are frozen values, never ORM rows."""
