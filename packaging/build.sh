#!/usr/bin/env bash
# Builds the frozen Live Canvas bundle from a checkout: dist/live-canvas/ (one folder: the
# executable, its libraries, and what install.sh puts on the desktop), then packs it as
# dist/live-canvas-<version>-linux-x86_64.tar.gz.
#
#   packaging/build.sh              # uses .venv (made with `pip install -e .` if missing)
#   PYTHON=/path/to/python packaging/build.sh
#   packaging/build.sh --no-archive # the folder only (the CI smoke test: packing takes minutes)
#
# The bundle carries what the build environment has installed: torch with its CUDA libraries
# (so a user's NVIDIA GPU works), never models (they stay in the Hugging Face cache).
set -euo pipefail
cd "$(dirname "$0")/.."
archive=1
for arg in "$@"; do
    case "$arg" in
        --no-archive) archive=0 ;;
        *) echo "build.sh: unknown option $arg (options: --no-archive)" >&2; exit 2 ;;
    esac
done

if [[ -z "${PYTHON:-}" ]]; then
    if [[ ! -x .venv/bin/python ]]; then
        python3 -m venv .venv
        .venv/bin/pip install -e .
    fi
    PYTHON=.venv/bin/python
fi
if ! "$PYTHON" -c "import PyInstaller, _pyinstaller_hooks_contrib" 2>/dev/null; then
    "$PYTHON" -m pip install pyinstaller pyinstaller-hooks-contrib
fi

version=$("$PYTHON" -c "import desktop_app; print(desktop_app.__version__)")
bundle=dist/live-canvas
rm -rf build/pyinstaller "$bundle" "dist/live-canvas-$version-linux-x86_64.tar.gz"

start=$SECONDS
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/live-canvas.spec
echo "build.sh: PyInstaller took $((SECONDS - start)) s"

packaging/desktop-files.sh "$bundle"
echo "build.sh: $(du -sh "$bundle" | cut -f1) in $bundle"

if [[ $archive == 1 ]]; then
    start=$SECONDS
    tarball=dist/live-canvas-$version-linux-x86_64.tar.gz
    # pigz packs on every core when it is there; the archive is the same gzip either way.
    if command -v pigz >/dev/null; then compress=pigz; else compress=gzip; fi
    tar -C dist -cf - live-canvas | "$compress" -6 > "$tarball.partial"
    mv "$tarball.partial" "$tarball"
    echo "build.sh: $(du -sh "$tarball" | cut -f1) in $tarball ($((SECONDS - start)) s to pack)"
fi
