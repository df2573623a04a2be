#!/usr/bin/env bash
# install_test.sh BUILD_DIR EXAMPLE.c: `cmake --install` into a temporary prefix, then
# checks that every public header is there and compiles alone, and compiles and runs the
# README example against the installed headers, library and pkg-config file only.
set -eu
build=$1 example=$2
prefix=$(mktemp -d /tmp/radiant-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/radiant.h include/radiant_core.h include/radiant_splats.h include/radiant_datasets.h \
         include/radiant_images.h include/radiant_bench.h include/radiant_vulkan.h bin/radiant; do
    test -e "$prefix/$f" || { echo "install: $f missing"; exit 1; }
done
# each header stands alone: it compiles as a file's only include
for h in "$prefix"/include/radiant*.h; do
    echo "#include <$(basename "$h")>" | cc -std=c11 -fsyntax-only -x c - -I"$prefix/include" ||
        { echo "install: $(basename "$h") does not compile alone"; exit 1; }
done
pc=$(find "$prefix" -name radiant.pc | head -n 1)
test -n "$pc" || { echo "install: radiant.pc missing"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cc -std=c11 ${EXTRA_CFLAGS:-} "$example" $(pkg-config --define-prefix --cflags --libs radiant) -o "$prefix/example"
cd "$prefix" && LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} LD_LIBRARY_PATH=$(pkg-config --define-prefix --variable=libdir radiant) ./example
test -s "$prefix/example.png"
echo "install: 1 passed, 0 failed"
