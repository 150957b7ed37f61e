"""The frozen app's entry point (PyInstaller runs this script; it is the ``medreview`` command)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # JPEG 2000 slices decode in "spawn" worker processes: in a bundle a worker is this same
    # executable, which must become a worker here instead of starting the app again.
    multiprocessing.freeze_support()
    from medreview.cli.main import main

    sys.exit(main())
