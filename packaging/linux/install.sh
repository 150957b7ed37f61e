#!/bin/sh
# Install medreview for this user only (no administrator rights):
#   the app        -> ~/.local/lib/medreview/       (PREFIX=~/.local unless set)
#   the command    -> ~/.local/bin/medreview
#   the menu entry, the .mrpkg file type and the icon -> ~/.local/share (XDG_DATA_HOME)
# Run it from the unpacked folder: ./medreview/install.sh   (./uninstall.sh removes it all)
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
prefix=${PREFIX:-"$HOME/.local"}
data=${XDG_DATA_HOME:-"$HOME/.local/share"}
dest="$prefix/lib/medreview"

if [ ! -x "$here/medreview" ]; then
    echo "install.sh: $here/medreview is missing; run install.sh from the unpacked medreview folder" >&2
    exit 1
fi

mkdir -p "$prefix/lib" "$prefix/bin" "$data/applications" "$data/mime/packages" \
         "$data/icons/hicolor/scalable/apps"
if [ "$here" != "$dest" ]; then
    # Copy next to the old version, then swap: a failed copy leaves the old one working.
    rm -rf "$dest.new"
    cp -R "$here" "$dest.new"
    rm -rf "$dest.old"
    if [ -e "$dest" ]; then mv "$dest" "$dest.old"; fi
    mv "$dest.new" "$dest"
    rm -rf "$dest.old"
fi

ln -sf "$dest/medreview" "$prefix/bin/medreview"
cp "$dest/medreview.svg" "$data/icons/hicolor/scalable/apps/medreview.svg"
cp "$dest/medreview-mime.xml" "$data/mime/packages/medreview.xml"
# Exec holds the quoted path (it may have spaces); a path with characters the desktop-entry
# format would need escaped falls back to the command on PATH. %f is the double-clicked package.
exe="$dest/medreview"
case "$exe" in
    *'"'*|*'`'*|*'$'*|*'\'*|*'%'*) exec_line="Exec=medreview %f" ;;
    *) exec_line="Exec=\"$exe\" %f" ;;
esac
{ grep -v '^Exec=' "$dest/medreview.desktop"; printf '%s\n' "$exec_line"; } \
    > "$data/applications/medreview.desktop"

# Refresh the desktop's caches when the tools exist (they do on every desktop install).
if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$data/mime" >/dev/null 2>&1 || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data/applications" >/dev/null 2>&1 || true
fi
if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default medreview.desktop application/x-medreview-package >/dev/null 2>&1 || true
fi

echo "medreview installed in $dest"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "(add $prefix/bin to PATH to run 'medreview' from a terminal)" ;;
esac
