#!/usr/bin/env bash
# Writes the lock the bundle is built from, on purpose and only here: exact versions with
# their sha256 hashes for Linux x86_64 and one Python, resolved from PyPI by uv (pinned
# below) from pyproject.toml's runtime dependencies and packaging/locks/bundle.in.
#
#   packaging/lock.sh                          # re-lock for this machine's python3 (or $PYTHON),
#                                              # keeping every pin that still fits
#   packaging/lock.sh --upgrade                # everything to its newest release
#   packaging/lock.sh --upgrade-package transformers
#   packaging/lock.sh --python 3.12            # another Python's lock, beside the first
#
# Any other option goes to `uv pip compile`. Then build and run the frozen tests
# (packaging/README.md) before committing the lock: that is what proves it.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
PLATFORM=linux-x86_64
python_version=
uv_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --python) python_version=${2:?lock.sh: --python needs a version such as 3.11}; shift 2 ;;
        *) uv_args+=("$1"); shift ;;
    esac
done
if [[ -z $python_version ]]; then
    python_version=$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
if [[ ! $python_version =~ ^3\.[0-9]+$ ]]; then
    echo "lock.sh: '$python_version' is not a Python version such as 3.11" >&2
    exit 2
fi

# uv itself at a fixed release, in a folder of its own: the lock's form does not drift either.
tools=build/lock-tools
if [[ "$("$tools/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
    rm -rf "$tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet "uv==$UV_VERSION"
fi

lock=packaging/locks/bundle-py$python_version-$PLATFORM.txt
# uv reads the pins of an existing lock back from --output-file and keeps them unless told to
# upgrade; it writes the file anew without a header, and the header goes on top after.
UV_CUSTOM_COMPILE_COMMAND=packaging/lock.sh "$tools/bin/uv" pip compile --quiet \
    pyproject.toml packaging/locks/bundle.in \
    --python-version "$python_version" --python-platform x86_64-manylinux_2_34 \
    --generate-hashes --no-header \
    --output-file "$lock" "${uv_args[@]}"
{
    echo "# The bundle's build environment: Python $python_version, $PLATFORM (manylinux_2_34)."
    echo "# Written by packaging/lock.sh (uv $UV_VERSION) from pyproject.toml and"
    echo "# packaging/locks/bundle.in; never edit by hand. build.sh installs exactly this with"
    echo "# pip install --require-hashes --no-deps, then the project with --no-deps."
    cat "$lock"
} > "$lock.partial"
mv "$lock.partial" "$lock"
echo "lock.sh: $(grep -c '==' "$lock") pins in $lock"
