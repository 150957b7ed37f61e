"""Write the documentation screenshots (docs/screenshots/*.png) offscreen.

Usage: python packaging/make_screenshots.py [out_dir]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    with tempfile.TemporaryDirectory(prefix="medreview-shots-") as tmp:
        # Never touch the user's settings or recent-project list.
        os.environ["MEDREVIEW_HOME"] = str(Path(tmp) / "home")
        from medreview.qt.preview import write_screenshots

        for path in write_screenshots(out, Path(tmp)):
            print(path)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
