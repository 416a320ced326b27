#!/usr/bin/env bash
# Installs a built Live Canvas bundle for this user only (no root):
#   the bundle       ~/.local/opt/live-canvas/
#   the command      ~/.local/bin/live-canvas -> ~/.local/opt/live-canvas/live-canvas
#   the launcher     ~/.local/share/applications/io.github.livecanvas.LiveCanvas.desktop
#   the icon         ~/.local/share/icons/hicolor/{16x16..512x512,scalable}/apps/...
#   the description  ~/.local/share/metainfo/io.github.livecanvas.LiveCanvas.metainfo.xml
# ($XDG_DATA_HOME instead of ~/.local/share when it is set.) Installing again replaces the
# previous install. ~/.local/opt/live-canvas/uninstall.sh removes exactly these.
#
#   ./install.sh                          # from an unpacked live-canvas-*.tar.gz
#   packaging/install.sh dist/live-canvas # from a checkout, after packaging/build.sh
set -euo pipefail
bundle=$(cd "${1:-$(dirname "$0")}" && pwd)
if [[ ! -x $bundle/live-canvas || ! -d $bundle/share ]]; then
    echo "install.sh: $bundle is not a Live Canvas bundle (build one with packaging/build.sh)" >&2
    exit 1
fi
opt=$HOME/.local/opt/live-canvas
bin=$HOME/.local/bin
data=${XDG_DATA_HOME:-$HOME/.local/share}

# A command of the same name that is not ours (a pip install --user) is left alone.
link=$bin/live-canvas
if [[ -e $link || -L $link ]] && [[ "$(readlink "$link" || true)" != "$opt/live-canvas" ]]; then
    echo "install.sh: $link exists and is not this install's; remove it first" >&2
    exit 1
fi

if [[ $bundle != "$opt" ]]; then
    # Copy beside the old install, then swap: a failed copy leaves the old one working.
    mkdir -p "$(dirname "$opt")"
    rm -rf "$opt.new"
    cp -a "$bundle" "$opt.new"
    rm -rf "$opt"
    mv "$opt.new" "$opt"
fi
mkdir -p "$bin"
ln -sfn "$opt/live-canvas" "$link"

# The launcher names the installed executable by its full path: ~/.local/bin is not on the
# PATH of every desktop session.
(cd "$opt/share" && find . -type f) | while read -r file; do
    file=${file#./}
    mkdir -p "$data/$(dirname "$file")"
    if [[ $file == applications/*.desktop ]]; then
        sed -e "s|^Exec=live-canvas |Exec=\"$opt/live-canvas\" |" \
            -e "s|^TryExec=live-canvas\$|TryExec=$opt/live-canvas|" \
            "$opt/share/$file" > "$data/$file"
        chmod 644 "$data/$file"
    else
        install -m644 "$opt/share/$file" "$data/$file"
    fi
done
# Desktops that keep an icon cache see the new icon at once (the cache is not ours to keep).
if command -v gtk-update-icon-cache >/dev/null && [[ -f $data/icons/hicolor/index.theme ]]; then
    gtk-update-icon-cache -q "$data/icons/hicolor" || true
fi
echo "Live Canvas is installed in $opt; start it from the applications menu or with $link"
case ":$PATH:" in *":$bin:"*) ;; *) echo "($bin is not on your PATH: the menu entry works regardless)" ;; esac
