#!/usr/bin/env bash
# exports_test.sh LIBRARY: the shared library exports rd_ symbols only (cmake/radiant.map),
# and the C API's entry points among them.
set -u
lib=$1
symbols=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//')
others=$(echo "$symbols" | grep -v '^rd_' | grep -v '^$')
status=0
if [ -n "$others" ]; then
    echo "exports: symbols without the rd_ prefix:"; echo "$others" | head -20; status=1
fi
for api in rd_context_create rd_render rd_scene_load rd_scene_get_kind rd_image_save; do
    echo "$symbols" | grep -qx "$api" || { echo "exports: $api is missing"; status=1; }
done
echo "exports: $(echo "$symbols" | wc -l) symbols, $([ $status -eq 0 ] && echo "all rd_" || echo "FAILED")"
exit $status
