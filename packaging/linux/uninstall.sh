#!/bin/sh
# Remove what install.sh put under ~/.local (projects and settings are left alone).
set -eu
prefix=${PREFIX:-"$HOME/.local"}
data=${XDG_DATA_HOME:-"$HOME/.local/share"}
rm -f "$prefix/bin/medreview" "$data/applications/medreview.desktop" \
      "$data/mime/packages/medreview.xml" "$data/icons/hicolor/scalable/apps/medreview.svg"
rm -rf "$prefix/lib/medreview"
if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$data/mime" >/dev/null 2>&1 || true
fi
echo "medreview removed (your projects and settings were not touched)"
