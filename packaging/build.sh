#!/usr/bin/env bash
# Builds the frozen Live Canvas bundle from a checkout: dist/live-canvas/ (one folder: the
# executable, its libraries, and what install.sh puts on the desktop), then packs it as
# dist/live-canvas-<version>-linux-x86_64.tar.gz.
#
#   packaging/build.sh              # with python3
#   PYTHON=python3.11 packaging/build.sh   # the Python the build environment is made from
#   packaging/build.sh --no-archive # the folder only (the CI smoke test: packing takes minutes)
#
# The bundle carries exactly packaging/locks/bundle-py<X.Y>-linux-x86_64.txt (exact versions,
# sha256-checked), installed into a virtualenv of its own, build/bundle-venv, never whatever
# another environment has: torch with its CUDA libraries (so a user's NVIDIA GPU works), never
# models (they stay in the Hugging Face cache). packaging/lock.sh updates the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
archive=1
for arg in "$@"; do
    case "$arg" in
        --no-archive) archive=0 ;;
        *) echo "build.sh: unknown option $arg (options: --no-archive)" >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-python3}
# The lock is for one Python and platform: another Python resolves other wheels (and may lack
# some), so it is refused rather than built from something that was never locked.
tag=$("$PYTHON" -c 'import platform, sys; print("py%d.%d-%s-%s" % (*sys.version_info[:2], sys.platform, platform.machine()))' 2>/dev/null) \
    || { echo "build.sh: cannot run PYTHON=$PYTHON (a Python 3 interpreter)" >&2; exit 2; }
lock=packaging/locks/bundle-$tag.txt
if [[ ! -f $lock ]]; then
    locked=$(cd packaging/locks && ls bundle-*.txt | sed 's/^bundle-//; s/\.txt$//' | paste -sd, -)
    echo "build.sh: no lock for $tag ($PYTHON); locked: $locked. Use PYTHON=python3.X for one of those, or make one with packaging/lock.sh --python X.Y" >&2
    exit 2
fi

# build/bundle-venv holds the lock and nothing else: made anew whenever the lock (or the
# Python) changes, so a package dropped from the lock is dropped from the bundle too.
venv=build/bundle-venv
wanted="$(sha256sum "$lock" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.base_prefix)')"
if [[ "$(cat "$venv/lock.stamp" 2>/dev/null)" != "$wanted" ]]; then
    start=$SECONDS
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    # --no-compile: PyInstaller compiles what it bundles itself; pip's byte-compiling all of
    # torch first was half of this step's time.
    "$venv/bin/python" -m pip install --quiet --no-compile --require-hashes --no-deps -r "$lock"
    echo "$wanted" > "$venv/lock.stamp"
    echo "build.sh: $venv made from $lock in $((SECONDS - start)) s"
fi
# The checkout itself, with the locked setuptools (no build isolation fetching the newest).
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"$venv/bin/python" -m pip check  # a lock that misses a dependency fails here, not in the bundle
PYTHON=$venv/bin/python

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
