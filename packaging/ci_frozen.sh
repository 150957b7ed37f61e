#!/usr/bin/env bash
# CI: build the one-folder app, then prove the frozen binary in a clean environment (no venv,
# no Python on PATH, offscreen Qt, a HOME and paths with spaces and accents): its self-test
# must pass and its output must hold no traceback, missing module or Qt plugin error. Then the
# Linux archive is installed per user with install.sh into a temporary HOME and run from there.
# Called by .ci/run after the tests; prints the build time, bundle size and self-test times.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$(date +%s)
.venv/bin/pip install -q -e ".[packaging]"
.venv/bin/python packaging/build.py
echo "frozen: build took $(( $(date +%s) - t0 )) s"
app=dist/medreview
echo "frozen: bundle size $(du -sm "$app" | cut -f1) MiB unpacked (du)"
# The test-only statistics references and test frameworks must never ship (neither as files
# nor inside the archive of compiled modules), and the demo's DICOM sources must.
.venv/bin/python - "$app" <<'PY'
import sys
from pathlib import Path
from PyInstaller.archive.readers import CArchiveReader
app = Path(sys.argv[1])
banned = {"sklearn", "statsmodels", "pingouin", "krippendorff", "irrCAC", "inspect_ai",
          "hypothesis", "pytest", "_pytest", "pytestqt", "seaborn", "matplotlib", "setuptools",
          "scipy", "pyarrow"}
exe = CArchiveReader(str(app / "medreview"))
pyz = exe.open_embedded_archive("PYZ.pyz")
found = {n.split(".")[0] for n in pyz.toc} & banned
found |= {p.name for p in (app / "_internal").iterdir()} & banned
assert not found, f"test-only packages in the bundle: {sorted(found)}"
demo = app / "_internal" / "pydicom" / "data" / "test_files"
for name in ("CT_small.dcm", "MR_small.dcm", "dicomdirtests/77654033/CR1/6154"):
    assert (demo / name).is_file(), f"the demo's {name} is missing from the bundle"
print(f"frozen: no test-only package in the bundle ({len(pyz.toc)} compiled modules)")
PY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/medreview frozen CI.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home dir" "$tmp/no python on PATH"
timeout=$(command -v timeout)   # resolved here: the clean PATH below holds nothing
bad='Traceback|ModuleNotFoundError|No module named|ImportError|Could not load the Qt platform plugin|qt\.qpa\.plugin|Could not find the Qt platform plugin'

# self_test LABEL EXECUTABLE: run the self-test with nothing from this machine's Python.
self_test() {
    local label=$1 exe=$2 report="$tmp/Études $1/report.json" out="$tmp/$1.log" start end
    start=$(date +%s%N)
    if ! env -i HOME="$tmp/home dir" PATH="$tmp/no python on PATH" LANG=C.UTF-8 \
            QT_QPA_PLATFORM=offscreen "$timeout" 300 "$exe" --self-test "$report" >"$out" 2>&1; then
        cat "$out"; echo "frozen: $label self-test FAILED"; return 1
    fi
    end=$(date +%s%N)
    if grep -E "$bad" "$out"; then
        cat "$out"; echo "frozen: $label self-test printed an error"; return 1
    fi
    .venv/bin/python - "$report" "$label" <<'PY'
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
failed = [c["name"] for c in report["checks"] if not c["ok"]]
assert report["ok"] is True and not failed and report["frozen"] is True, (failed, report)
window = next(c for c in report["checks"] if c["name"] == "main_window")
print(f"frozen: {sys.argv[2]} self-test passed {len(report['checks'])} checks in "
      f"{report['seconds']:.1f} s (window on the demo in "
      f"{window['detail']['seconds_to_first_item']:.2f} s)")
PY
    echo "frozen: $label self-test wall time $(( (end - start) / 1000000 )) ms"
}

self_test dist "$PWD/$app/medreview"

# The user's route: unpack the archive somewhere with spaces and accents, install per user.
archive=$(ls dist/medreview-*-linux-*.tar.gz)
mkdir -p "$tmp/Téléchargements"
tar -xzf "$archive" -C "$tmp/Téléchargements"
env -i HOME="$tmp/home dir" PATH=/usr/bin:/bin sh "$tmp/Téléchargements/medreview/install.sh"
for f in ".local/bin/medreview" ".local/share/applications/medreview.desktop" \
         ".local/share/mime/packages/medreview.xml"; do
    test -e "$tmp/home dir/$f" || { echo "frozen: install.sh did not write ~/$f"; exit 1; }
done
self_test installed "$tmp/home dir/.local/bin/medreview"
env -i HOME="$tmp/home dir" PATH=/usr/bin:/bin sh "$tmp/home dir/.local/lib/medreview/uninstall.sh"
test ! -e "$tmp/home dir/.local/lib/medreview" || { echo "frozen: uninstall.sh left files"; exit 1; }
echo "frozen: all checks passed"
