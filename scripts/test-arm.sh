#!/usr/bin/env bash
# Cross-builds dsconv for aarch64 and armv7 and tests it under qemu-user:
#   1. the C++ library and every cpp/tests/test_*.cpp, run by ctest under qemu-aarch64 with
#      -cpu cortex-a53 (ARMv8.0: Pi 3/4) and -cpu max (ARMv8.2 + fp16 + dotprod: Pi 5),
#      and under qemu-arm (armv7 + NEON: 32-bit Raspberry Pi OS);
#   2. the Python module cross-built for aarch64 and the pytest suite (tests/) run by an
#      aarch64 CPython (Debian's arm64 debs, unpacked, not installed) under qemu-aarch64.
# Installs what it lacks with apt-get (cross compilers, qemu-user) and pip --target (aarch64
# wheels of numpy, pytest, hypothesis; pybind11's headers and CMake files). Any failure fails the script.
# Environment: DSCONV_ARM_WORK (scratch folder, default build-arm-ci in the repo),
# DSCONV_ARM_STEPS (default "cpp-a53 cpp-max cpp-armv7 python"), JOBS (default 2).
# Tests under qemu run ~8x slower: DSCONV_TEST_SCALE=small makes test_neon.cpp sample its
# sweeps, DSCONV_TEST_EXAMPLES=25 sets hypothesis' examples per property (tests/conftest.py).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${DSCONV_ARM_WORK:-$root/build-arm-ci}
steps=${DSCONV_ARM_STEPS:-"cpp-a53 cpp-max cpp-armv7 python"}
jobs=${JOBS:-2}
export DSCONV_TEST_SCALE=${DSCONV_TEST_SCALE:-small}
export DSCONV_TEST_EXAMPLES=${DSCONV_TEST_EXAMPLES:-25}
mkdir -p "$work"

log() { printf '\n==== test-arm: %s\n' "$*"; }
die() { printf '\ntest-arm: FAILED: %s\n' "$*" >&2; exit 1; }
trap 'die "line $LINENO: $BASH_COMMAND"' ERR

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then sudo_ apt-get update -qq; apt_updated=1; fi
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ------------------------------------------------------------------ tools
log "tools"
apt_install cmake ninja-build googletest g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user
command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 not found after installing qemu-user"

# ------------------------------------------------------------------ aarch64 Python
# Debian's arm64 CPython and the libraries it links, unpacked into $pyroot (installing
# python3:arm64 with apt would replace the host's python3).
pyroot="$work/py-aarch64/root"
pysite="$work/py-aarch64/site"
pywrap="$work/py-aarch64/python3"
setup_python() {
  log "aarch64 Python"
  if [ ! -x "$pyroot/usr/bin/python3.11" ]; then
    if ! grep -qx arm64 <<<"$(dpkg --print-foreign-architectures)"; then
      sudo_ dpkg --add-architecture arm64
      apt_updated=0
    fi
    if [ $apt_updated = 0 ]; then sudo_ apt-get update -qq; apt_updated=1; fi
    local debs="$work/py-aarch64/debs"
    rm -rf "$debs" "$pyroot"; mkdir -p "$debs" "$pyroot"
    local pkgs=(libc6 libstdc++6 libgcc-s1 libgomp1 python3.11 python3.11-minimal libpython3.11
      libpython3.11-minimal libpython3.11-stdlib libpython3.11-dev python3.11-dev libexpat1 zlib1g
      libffi8 libssl3 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6 libreadline8
      libuuid1 libcrypt1 libdb5.3 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libk5crypto3
      libkrb5support0 libcom-err2 libkeyutils1)
    (cd "$debs" && apt-get download -qq "${pkgs[@]/%/:arm64}")
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$pyroot"; done
  fi
  # qemu -0 makes the wrapper the guest's argv[0], so sys.executable is this host script and
  # tests that start "sys.executable -m dsconv" in a subprocess work without binfmt_misc;
  # PYTHONHOME then tells Python where its standard library is.
  mkdir -p "$(dirname "$pywrap")"
  cat > "$pywrap" <<WRAP
#!/bin/sh
export PYTHONHOME="$pyroot/usr"
exec qemu-aarch64 -cpu \${DSCONV_QEMU_CPU:-max} -L "$pyroot" -0 "$pywrap" "$pyroot/usr/bin/python3.11" "\$@"
WRAP
  chmod +x "$pywrap"
  "$pywrap" -c 'import sys, platform; print("Python", sys.version.split()[0], platform.machine())'
  if [ ! -d "$pysite/numpy" ] || [ ! -d "$pysite/hypothesis" ] || [ ! -d "$pysite/pytest" ] ||
     [ ! -d "$pysite/pybind11" ]; then
    python3 -m pip install -q --disable-pip-version-check --target "$pysite" \
      --platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.11 --implementation cp \
      numpy pytest hypothesis pybind11
  fi
}

# ------------------------------------------------------------------ C++ under qemu
# One build per target (the aarch64 one also builds the Python module when the python step
# runs); running it under another qemu CPU only reconfigures: the tests' emulator line changes,
# nothing is recompiled.
python_args=()
configure() {  # build-name toolchain qemu-cpu
  local b="$work/$1" tc=$2 cpu=$3 extra=()
  [ "$1" = aarch64 ] && extra=("${python_args[@]}")
  cmake -S "$root" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -Wno-dev \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$tc.cmake" -DDSCONV_QEMU_CPU="$cpu" \
    -DDSCONV_BUILD_TESTS=ON "${extra[@]}" >/dev/null
}
cpp_suite() {  # build-name toolchain qemu-cpu
  local b="$work/$1"
  log "C++ suite: $2 under qemu -cpu $3"
  configure "$@"
  cmake --build "$b" -j"$jobs"
  (cd "$b" && ctest --output-on-failure -j"$jobs" --timeout 900)
}

# ------------------------------------------------------------------ Python under qemu
python_suite() {
  local b="$work/aarch64"
  log "Python module for aarch64"
  configure aarch64 aarch64-linux-gnu max
  cmake --build "$b" -j"$jobs" --target _core
  local pkg="$work/py-pkg"
  rm -rf "$pkg"; mkdir -p "$pkg/dsconv"
  cp "$root"/python/dsconv/*.py "$pkg/dsconv/"
  cp "$b"/_core*.so "$pkg/dsconv/"
  export PYTHONPATH="$pkg:$pysite"
  for cpu in cortex-a53 max; do
    log "cpu_info() under qemu-aarch64 -cpu $cpu"
    DSCONV_QEMU_CPU=$cpu "$pywrap" - <<'PY'
import dsconv
info = dsconv.cpu_info()
print(info)
assert info["isa"] == "neon", info
for op, name in info["kernels"].items():
    assert name.startswith("neon/"), (op, name)
PY
  done
  ls "$root"/tests/test_*.py >/dev/null 2>&1 || die "no pytest suite in tests/"
  log "pytest under qemu-aarch64 (DSCONV_TEST_EXAMPLES=$DSCONV_TEST_EXAMPLES)"
  (cd "$root" && "$pywrap" -m pytest -q -p no:cacheprovider tests)
}

case " $steps " in
  *" python "*)
    setup_python
    python_args=(-DDSCONV_BUILD_PYTHON=ON -DPython_EXECUTABLE="$pywrap"
      -DPython_INCLUDE_DIR="$pyroot/usr/include/python3.11"
      -Dpybind11_DIR="$pysite/pybind11/share/cmake/pybind11"
      "-DCMAKE_CXX_FLAGS=-idirafter $pyroot/usr/include -idirafter $pyroot/usr/include/aarch64-linux-gnu")
    ;;
esac

for step in $steps; do
  case $step in
    cpp-a53) cpp_suite aarch64 aarch64-linux-gnu cortex-a53 ;;
    cpp-max) cpp_suite aarch64 aarch64-linux-gnu max ;;
    cpp-armv7) cpp_suite armv7 armv7-linux-gnueabihf max ;;
    python) python_suite ;;
    *) die "unknown step '$step'" ;;
  esac
done
log "all ARM checks passed ($steps)"
