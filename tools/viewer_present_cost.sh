#!/usr/bin/env bash
# viewer_present_cost.sh [SCENE] [WIDTH HEIGHT]: what presenting costs in radiant-view,
# under Xvfb on the Vulkan driver present (lavapipe here): the viewer's median frame time
# at one fixed camera with vsync off, beside `radiant bench --backend vulkan` at the same
# camera and size. Defaults: the donut PLY at 960x540. Prints both and the difference.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RADIANT_DATA:-../shared/data}
scene=${1:-$data/gaussian_splats/gshairlod_donut/fused.ply}
width=${2:-960} height=${3:-540} frames=${FRAMES:-20}
tmp=$(mktemp -d /tmp/radiant-present-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# one camera 0.5 units in front of the scene's centre (bounds from `radiant info`), looking at it
read -r cx cy cz < <(build/radiant info "$scene" | awk -F'[][,]' '/^bounds/ { printf "%f %f %f\n", ($2+$6)/2, ($3+$7)/2, ($4+$8)/2 }')
cat >"$tmp/cams.json" <<JSON
{"cameras": [{"width": $width, "height": $height, "fx": $((width * 7 / 10)), "fy": $((width * 7 / 10)),
  "cx": $((width / 2)), "cy": $((height / 2)),
  "w2c": [[1, 0, 0, $(awk -v v="$cx" 'BEGIN{print -v}')], [0, 1, 0, $(awk -v v="$cy" 'BEGIN{print -v}')],
          [0, 0, 1, $(awk -v v="$cz" 'BEGIN{print 0.5 - v}')], [0, 0, 0, 1]]}]}
JSON
XVFB_SCREEN=1920x1200x24 tests/with_xvfb.sh build/radiant-view "$scene" --cameras "$tmp/cams.json" --width "$width" \
    --height "$height" --no-vsync --frames $((frames + 1)) 2>&1 | grep "frames at" | tee "$tmp/viewer.txt"
build/radiant bench "$scene" --cameras "$tmp/cams.json" --backend vulkan --frames "$frames" --warmup 1 --json >"$tmp/bench.json"
viewer=$(sed -E 's/.*frame ([0-9.]+) ms.*/\1/' "$tmp/viewer.txt")
bench=$(sed -nE 's/.*"median_wall_ms":[[:space:]]*([0-9.]+).*/\1/p' "$tmp/bench.json" | head -1)
echo "radiant bench --backend vulkan: wall $bench ms a frame"
awk -v v="$viewer" -v b="$bench" 'BEGIN { printf "presenting costs %.2f ms a frame (%.1f%% of the render)\n", v - b, 100 * (v - b) / b }'
