#!/usr/bin/env bash
# Removes what install.sh installed, and nothing else: the bundle in ~/.local/opt/live-canvas,
# the ~/.local/bin/live-canvas link (only if it is still the one pointing there), and each
# launcher, icon and metainfo file the bundle's share/ folder lists. Your sketches, settings,
# exports and downloaded models are not touched.
set -euo pipefail
# All in a function, which bash reads whole before running it: the script may be the one
# inside the folder it removes.
main() {
opt=$HOME/.local/opt/live-canvas
link=$HOME/.local/bin/live-canvas
data=${XDG_DATA_HOME:-$HOME/.local/share}
if [[ ! -d $opt/share ]]; then
    echo "uninstall.sh: Live Canvas is not installed in $opt" >&2
    exit 1
fi
# The list of files comes from the bundle itself, so it is read before the bundle goes.
(cd "$opt/share" && find . -type f) | while read -r file; do
    rm -f "$data/${file#./}"
done
if [[ -L $link && "$(readlink "$link")" == "$opt/live-canvas" ]]; then
    rm -f "$link"
fi
rm -rf "$opt"
if command -v gtk-update-icon-cache >/dev/null && [[ -f $data/icons/hicolor/index.theme ]]; then
    gtk-update-icon-cache -q "$data/icons/hicolor" || true
fi
echo "Live Canvas is uninstalled (your sketches, settings and models are kept)"
}
main "$@"
