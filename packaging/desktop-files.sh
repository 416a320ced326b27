#!/usr/bin/env bash
# Lays out, in a bundle folder, what install.sh puts on the desktop: share/ as it lands in
# ~/.local/share (launcher, metainfo, icons under the app id), and install.sh/uninstall.sh.
#   packaging/desktop-files.sh dist/live-canvas    (build.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:?usage: desktop-files.sh BUNDLE_FOLDER}
app_id=$(sed -n 's|^ *<id>\(.*\)</id>$|\1|p' packaging/linux/*.metainfo.xml)
share=$bundle/share
install -Dm644 "packaging/linux/$app_id.desktop" "$share/applications/$app_id.desktop"
install -Dm644 "packaging/linux/$app_id.metainfo.xml" "$share/metainfo/$app_id.metainfo.xml"
# The scalable icon is the window's own app.svg; the PNGs are rendered from it.
install -Dm644 resources/icons/app.svg "$share/icons/hicolor/scalable/apps/$app_id.svg"
for png in resources/icons/hicolor/*/apps/"$app_id".png; do
    size=$(basename "$(dirname "$(dirname "$png")")")
    install -Dm644 "$png" "$share/icons/hicolor/$size/apps/$app_id.png"
done
install -m755 packaging/install.sh packaging/uninstall.sh "$bundle/"
