#!/usr/bin/env bash
# install_test.sh BUILD_DIR EXAMPLE.c: `cmake --install` into a temporary prefix, then
# checks that every public header is there and compiles alone; that the installed
# `radiant` (and `radiant-view`, where built) run from there with no LD_LIBRARY_PATH and
# load the installed library; and builds and runs the README example against the
# installed files only, both ways a user would: pkg-config (no --define-prefix) and
# CMake's find_package(radiant).
set -eu
build=$1 example=$2
prefix=$(mktemp -d /tmp/radiant-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
fail() { echo "install: $*"; exit 1; }
for f in include/radiant.h include/radiant_core.h include/radiant_splats.h include/radiant_datasets.h \
         include/radiant_images.h include/radiant_bench.h include/radiant_vulkan.h bin/radiant; do
    test -e "$prefix/$f" || fail "$f missing"
done
# each header stands alone: it compiles as a file's only include
for h in "$prefix"/include/radiant*.h; do
    echo "#include <$(basename "$h")>" | cc -std=c11 -fsyntax-only -x c - -I"$prefix/include" ||
        fail "$(basename "$h") does not compile alone"
done
# the programs: a runpath to the prefix's library, nothing from the build tree
for p in radiant radiant-view; do
    [ -e "$prefix/bin/$p" ] || continue
    (unset LD_LIBRARY_PATH; LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$prefix/bin/$p" --help >/dev/null) ||
        fail "bin/$p does not run without LD_LIBRARY_PATH"
    lib=$(unset LD_LIBRARY_PATH; ldd "$prefix/bin/$p" | awk '/libradiant/ {print $3}')
    case $(readlink -f "$lib") in "$(readlink -f "$prefix")"/*) ;; *) fail "bin/$p loads '$lib', not the installed library" ;; esac
done
(cd "$prefix" && unset LD_LIBRARY_PATH && LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} bin/radiant render --demo --width 32 --height 18 \
    --out "$prefix/render" >/dev/null) || fail "bin/radiant render failed"
# pkg-config: the file locates the prefix itself
pc=$(find "$prefix" -name radiant.pc | head -n 1)
test -n "$pc" || fail "radiant.pc missing"
export PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(readlink -f "$(pkg-config --variable=prefix radiant)")" = "$(readlink -f "$prefix")" ] ||
    fail "radiant.pc's prefix is $(pkg-config --variable=prefix radiant), not $prefix"
mkdir -p "$prefix/pc" "$prefix/cm"
cc -std=c11 ${EXTRA_CFLAGS:-} "$example" $(pkg-config --cflags --libs radiant) -o "$prefix/pc/example"
(cd "$prefix/pc" && LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} LD_LIBRARY_PATH=$(pkg-config --variable=libdir radiant) ./example) ||
    fail "the example built with pkg-config failed"
test -s "$prefix/pc/example.png" || fail "the example built with pkg-config wrote no image"
# CMake: find_package(radiant) and the radiant::radiant target
cp "$example" "$prefix/cm/example.c"
cat >"$prefix/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(example C)
find_package(radiant 0.1 REQUIRED)
add_executable(example example.c)
target_link_libraries(example PRIVATE radiant::radiant)
CMAKE
cmake -S "$prefix/cm" -B "$prefix/cm/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="${EXTRA_CFLAGS:-}" >/dev/null ||
    fail "find_package(radiant) failed"
cmake --build "$prefix/cm/build" >/dev/null || fail "the example does not build with find_package(radiant)"
(cd "$prefix/cm" && LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} build/example) || fail "the example built with CMake failed"
test -s "$prefix/cm/example.png" || fail "the example built with CMake wrote no image"
echo "install: 1 passed, 0 failed"
