#!/usr/bin/env bash
# macOS: sign (when an identity is configured), make the .dmg, notarize and staple.
# Run after `python packaging/build.py` has written dist/medreview.app:
#   packaging/macos/make_dmg.sh
# Signing runs only when MEDREVIEW_SIGN_IDENTITY is set ("Developer ID Application: … (TEAMID)");
# notarization only when MEDREVIEW_NOTARY_PROFILE (a `xcrun notarytool store-credentials`
# profile) or MEDREVIEW_NOTARY_APPLE_ID + MEDREVIEW_NOTARY_TEAM_ID + MEDREVIEW_NOTARY_PASSWORD
# are set. Without them the .dmg is unsigned: Gatekeeper will ask the user to confirm (right
# click → Open) — fine for testing, not for hospital distribution.
set -euo pipefail
cd "$(dirname "$0")/../.."
app=dist/medreview.app
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' medreview/__init__.py)
arch=$(uname -m)
dmg="dist/medreview-$version-macos-$arch.dmg"
test -d "$app" || { echo "make_dmg.sh: $app is missing; run python packaging/build.py first" >&2; exit 1; }

if [ -n "${MEDREVIEW_SIGN_IDENTITY:-}" ]; then
    # Inside out: every nested library and framework first, then the app (never --deep for
    # signing; Qt frameworks fail notarization otherwise, pyinstaller#8927).
    find "$app/Contents" -type f \( -name "*.so" -o -name "*.dylib" \) -print0 |
        xargs -0 codesign --force --timestamp --options runtime --sign "$MEDREVIEW_SIGN_IDENTITY"
    find "$app/Contents" -type d -name "*.framework" -print0 |
        xargs -0 -I{} codesign --force --timestamp --options runtime --sign "$MEDREVIEW_SIGN_IDENTITY" {}
    codesign --force --timestamp --options runtime \
        --entitlements packaging/macos/entitlements.plist \
        --sign "$MEDREVIEW_SIGN_IDENTITY" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
else
    echo "make_dmg.sh: MEDREVIEW_SIGN_IDENTITY not set: the app is not signed"
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"   # drag to ~/Applications works without admin too
rm -f "$dmg"
hdiutil create -volname "medreview $version" -srcfolder "$staging" -ov -format UDZO "$dmg"

if [ -n "${MEDREVIEW_SIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$MEDREVIEW_SIGN_IDENTITY" "$dmg"
    if [ -n "${MEDREVIEW_NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$dmg" --keychain-profile "$MEDREVIEW_NOTARY_PROFILE" --wait
    elif [ -n "${MEDREVIEW_NOTARY_APPLE_ID:-}" ]; then
        xcrun notarytool submit "$dmg" --apple-id "$MEDREVIEW_NOTARY_APPLE_ID" \
            --team-id "$MEDREVIEW_NOTARY_TEAM_ID" --password "$MEDREVIEW_NOTARY_PASSWORD" --wait
    else
        echo "make_dmg.sh: no notary credentials: the dmg is signed but not notarized"
    fi
    if [ -n "${MEDREVIEW_NOTARY_PROFILE:-}${MEDREVIEW_NOTARY_APPLE_ID:-}" ]; then
        xcrun stapler staple "$dmg"
        xcrun stapler validate "$dmg"
        spctl -a -t open --context context:primary-signature -vv "$dmg"
    fi
fi
echo "wrote $dmg"
