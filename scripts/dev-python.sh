#!/usr/bin/env bash
# Builds dsconv._core in its own build folder and lays out an importable package there, for
# working on kernels without reinstalling: eval "$(scripts/dev-python.sh build-mine)"
# prints the PYTHONPATH export to use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: dev-python.sh BUILD_DIR}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDSCONV_BUILD_PYTHON=ON \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" --target _core >&2
mkdir -p "$build/py/dsconv"
for f in "$root"/python/dsconv/*.py; do ln -sf "$f" "$build/py/dsconv/"; done
ln -sf "$build"/_core*.so "$build/py/dsconv/"
echo "export PYTHONPATH=$build/py"
