#!/usr/bin/env bash
# stream_bench.sh: issue 32's decode + render and seek figures on the GPU machine, from any
# pack (tools/device_prepare.sh, not LEGO=1): a fixture stream of 300,000 Gaussians, SH 3,
# an intra frame every 30, each residual frame leaving STILL (0.99) of them as they were
# (latents zero, no move, 1 - STILL of the mapping churned), benched at 1352x1014 on each of
# BACKENDS ("cuda vulkan cuda vulkan": two runs each, interleaved), with `radiant bench
# --json`. Prints the residual frames' medians (intra frames left out) and the seeks'.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f $nvidia_icd ] && export VK_DRIVER_FILES=$nvidia_icd
fixture=/tmp/fixture_${STILL:-0.99}.rstream
[ -f "$fixture" ] || .device/bin/stream_fixture_tool "$fixture" 31 300000 3 30 7 "${STILL:-0.99}" >/dev/null || exit 1
.device/bin/radiant info "$fixture" | grep -E "size|bitrate"
for backend in ${BACKENDS:-cuda vulkan cuda vulkan}; do
    .device/bin/radiant bench "$fixture" --backend "$backend" --width 1352 --height 1014 --json 2>/dev/null | python3 -c '
import json, statistics as st, sys
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    j = json.loads(line)
    d, r = j["decode_ms"], j["render_ms"]
    res = [i for i in range(len(d)) if (j["first_frame"] + i) % 30]  # residual frames
    both = [d[i] + r[i] for i in res]
    print("%-7s residual frames: median decode %.3f ms, render %.3f, decode + render %.3f (%.3f to %.3f); seek median %.2f ms, worst %.2f"
          % (j["backend"], st.median(d[i] for i in res), st.median(r[i] for i in res), st.median(both), min(both), max(both),
             st.median(j["seek_ms"]), max(j["seek_ms"])))
'
done
