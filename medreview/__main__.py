"""`python -m medreview` runs the command line."""

from medreview.cli.main import main

raise SystemExit(main())
