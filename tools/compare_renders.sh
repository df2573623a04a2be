#!/usr/bin/env bash
# compare_renders.sh [REF]: renders the demo, donut and biker scenes on the CPU backend with
# REF (a commit; default HEAD) and with the working tree, 8 orbit views each at 480x270,
# and says whether every image is bit for bit the same (float32 EXR files compared byte for
# byte). REF builds in a temporary worktree; both builds are CPU-only. Exits 1 on any
# difference. For restructurings that must not change an image.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-HEAD}
data=${RADIANT_DATA:-../shared/data}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/ref" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/ref" "$ref"
build() {
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DRADIANT_TESTS=OFF -DRADIANT_VIEWER=OFF -DRADIANT_CUDA=OFF \
        -DRADIANT_VULKAN=OFF >/dev/null
    cmake --build "$2" -j "$(nproc)" --target radiant_cli >/dev/null
}
build "$work/ref" "$work/build-ref"
build . "$work/build-new"
status=0
for spec in "demo:--demo" "donut:$data/gaussian_splats/gshairlod_donut/fused.ply" \
            "biker:$data/gaussian_splats/playcanvas/biker.spz"; do
    name=${spec%%:*} args=${spec#*:}
    for side in ref new; do
        # shellcheck disable=SC2086
        "$work/build-$side/radiant" render $args --backend cpu --exr --width 480 --height 270 \
            --out "$work/out-$side/$name" >/dev/null
    done
    views=0
    for f in "$work/out-ref/$name"/*.exr; do
        views=$((views + 1))
        cmp -s "$f" "$work/out-new/$name/$(basename "$f")" || { echo "$name: $(basename "$f") differs"; status=1; }
    done
    echo "$name: $views views compared with $ref"
done
[ $status -eq 0 ] && echo "every image is bit for bit the same"
exit $status
