#!/usr/bin/env bash
# Installs dsconv to temporary prefixes, static and shared (BUILD_SHARED_LIBS), and builds and
# runs the examples against each install the way an outside project would: the C++ one with
# find_package(dsconv CONFIG), the C one with pkg-config. Checks what each install holds and
# that the shared library exports only the public API (nm -D). Any failure fails the script.
# Usage: scripts/test-install.sh   (DSCONV_JOBS=n sets the build parallelism; default: nproc)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dsconv-test-install.XXXXXX")
jobs=${DSCONV_JOBS:-$(nproc 2>/dev/null || echo 2)}
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
# The static and shared builds compile identical objects: with ccache (a private, empty cache)
# the second build reuses the first's, halving the time.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_DIR=$work/ccache CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

finish() {
  local status=$?
  if [ $status -eq 0 ]; then rm -rf "$work"; else echo "test-install: logs and builds kept in $work" >&2; fi
}
trap finish EXIT

fail() {
  echo "test-install: FAIL: $*" >&2
  exit 1
}
step() { printf '== [%3ds] %s\n' "$SECONDS" "$*"; }
# Runs a command with its output in a log, shown only when it fails.
logged() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { tail -n 60 "$log" >&2; fail "$* (log: $log)"; }
}
need_file() { [ -e "$1" ] || fail "the install lacks $1"; }

# The C functions dsconv.h declares, and the exported symbols nm -D finds that are not part of
# the public API (the C API and namespace dsconv, outside dsconv::detail).
c_api_functions() { grep -oE '\bdsconv_[a-z0-9_]+\(' "$1" | tr -d '(' | sort -u; }
check_exports() {
  local lib=$1 header=$2
  local exported c_exported declared leaks missing
  exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}')
  [ -n "$exported" ] || fail "nm -D finds no exported symbol in $lib"
  c_exported=$(grep -E '^dsconv_' <<<"$exported" | sort -u || true)
  declared=$(c_api_functions "$header")
  missing=$(comm -13 <(echo "$c_exported") <(echo "$declared"))
  [ -z "$missing" ] || fail "dsconv.h declares functions $lib does not export: $missing"
  leaks=$(
    comm -23 <(echo "$c_exported") <(echo "$declared")
    grep -vE '^dsconv_' <<<"$exported" | c++filt |
      grep -vE '^((typeinfo|typeinfo name|vtable) for )?dsconv::' || true
    grep -vE '^dsconv_' <<<"$exported" | c++filt |
      grep -E '^((typeinfo|typeinfo name|vtable) for )?dsconv::detail::' || true
  )
  if [ -n "$leaks" ]; then
    echo "$leaks" >&2
    fail "$lib exports symbols outside the public API (above)"
  fi
  echo "   nm -D: $(wc -l <<<"$exported") exported symbols, all public ($(wc -l <<<"$c_exported") C API functions)"
}

for kind in static shared; do
  shared=OFF
  [ $kind = shared ] && shared=ON
  build=$work/build-$kind
  prefix=$work/prefix-$kind

  step "$kind: configure and build the library (BUILD_SHARED_LIBS=$shared, -j$jobs)"
  # The configure-time prefix is never used: the install goes to --prefix, so the CMake and
  # pkg-config files must not depend on it.
  logged "$work/$kind-configure.log" cmake -S "$root" -B "$build" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=$shared -DDSCONV_BUILD_PYTHON=OFF -DDSCONV_BUILD_TESTS=OFF -DDSCONV_BUILD_BENCH=OFF \
    -DCMAKE_INSTALL_PREFIX="$work/unused-prefix"
  logged "$work/$kind-build.log" cmake --build "$build" -j "$jobs"
  if [ ${#launcher[@]} -gt 0 ]; then echo "   ccache: $(ccache --print-stats 2>/dev/null | awk -F'\t' '$1 ~ /^direct_cache_hit$|^preprocessed_cache_hit$|^cache_miss$/ {printf "%s=%s ", $1, $2}')"; fi

  step "$kind: install to $prefix"
  logged "$work/$kind-install.log" cmake --install "$build" --prefix "$prefix"
  [ ! -e "$work/unused-prefix" ] || fail "the install wrote to the configure-time prefix"
  pc=$(find "$prefix" -name dsconv.pc -path '*/pkgconfig/*')
  [ -n "$pc" ] || fail "the install lacks dsconv.pc"
  libdir=$(cd "$(dirname "$pc")/.." && pwd)
  for f in include/dsconv/dsconv.hpp include/dsconv/cost.hpp include/dsconv/dsconv.h; do need_file "$prefix/$f"; done
  for f in dsconvConfig.cmake dsconvConfigVersion.cmake dsconvTargets.cmake; do need_file "$libdir/cmake/dsconv/$f"; done
  if [ $kind = static ]; then
    need_file "$libdir/libdsconv.a"
    [ -z "$(find "$prefix" -name 'libdsconv.so*')" ] || fail "a static install holds a shared library"
  else
    need_file "$libdir/libdsconv.so"
    [ -z "$(find "$prefix" -name 'libdsconv.a')" ] || fail "a shared install holds a static library"
  fi
  [ -z "$(find "$prefix" -name '_core*' -o -name '*.py')" ] || fail "the C++ install holds Python files"
  # The wheel installs only the component "python": none of these rules may be in it.
  logged "$work/$kind-install-python.log" cmake --install "$build" --prefix "$work/python-$kind" --component python
  [ ! -e "$work/python-$kind" ] || fail "cmake --install --component python installs C++ files: $(find "$work/python-$kind" -type f)"

  if grep -q 'set(dsconv_WITH_OPENMP ON)' "$libdir/cmake/dsconv/dsconvConfig.cmake"; then
    grep -qE '^Libs.private:.*(-lgomp|-lomp|-liomp5|-fopenmp)' "$pc" || fail "dsconv.pc lacks the OpenMP runtime in Libs.private"
    if [ $kind = static ]; then
      grep -q 'find_dependency(OpenMP' "$libdir/cmake/dsconv/dsconvConfig.cmake" || fail "dsconvConfig.cmake does not find OpenMP"
    fi
    echo "   built with OpenMP: $(grep '^Libs.private' "$pc")"
  fi

  if [ $kind = shared ]; then
    step "shared: exported symbols"
    check_exports "$(readlink -f "$libdir/libdsconv.so")" "$prefix/include/dsconv/dsconv.h"
  fi

  step "$kind: C++ example with find_package(dsconv CONFIG REQUIRED)"
  logged "$work/$kind-cpp-configure.log" cmake -S "$root/examples/cpp" -B "$work/cpp-$kind" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
  grep -q "from $libdir/cmake/dsconv" "$work/$kind-cpp-configure.log" || fail "find_package found another dsconv"
  logged "$work/$kind-cpp-build.log" cmake --build "$work/cpp-$kind"
  "$work/cpp-$kind/mobilenet_block" || fail "the C++ example ($kind) failed"

  step "$kind: C example with pkg-config"
  mkdir -p "$work/c-$kind"
  static_flag=()
  [ $kind = static ] && static_flag=(STATIC=1)
  logged "$work/$kind-c-build.log" env PKG_CONFIG_PATH="$libdir/pkgconfig" \
    make -C "$work/c-$kind" -f "$root/examples/c/Makefile" "${static_flag[@]}"
  LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/c-$kind/mobilenet_block" ||
    fail "the C example ($kind) failed"
  if [ $kind = shared ]; then
    # grep reads ldd's output from a variable: `ldd | grep -q` fails under pipefail whenever grep
    # exits at its match before ldd has written everything (SIGPIPE).
    deps=$(LD_LIBRARY_PATH="$libdir" ldd "$work/c-$kind/mobilenet_block")
    grep -q "$libdir/libdsconv.so" <<<"$deps" || fail "the C example is not linked to the installed libdsconv.so"
  else
    deps=$(ldd "$work/c-$kind/mobilenet_block")
    ! grep -q libdsconv <<<"$deps" || fail "the static C example loads a libdsconv.so"
  fi
done

step "OK: static and shared installs, find_package and pkg-config consumers, public exports only"
