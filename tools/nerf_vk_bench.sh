#!/usr/bin/env bash
# nerf_vk_bench.sh: runs on the GPU machine from the repository root with .device/ carried
# (device_prepare.sh with LEGO=1; LEGO_HALF=1 carries half the training photos, room for
# variants): trains the lego NeRF for SECONDS_TRAINED (default 15) on CUDA, then benches its
# frame at SIZE (default 800x800, the issue's) on CUDA and on Vulkan with the pack's
# library and with each library folder in VARIANTS (e.g. "lib-a lib-b": folders under
# .device holding another build's libradiant.so.0, loaded first), ROUNDS times (default 2)
# in turn, so that every figure comes from the same field and call. PROFILE=1: the Vulkan
# frames with RADIANT_NERF_VK_PROFILE=1 (each phase's subgroup clock ticks among the counts).
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
export RADIANT_DATA=$PWD/.device/data
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
field=$(mktemp -d)/lego.rnerf
.device/bin/radiant train .device/data/nerf_synthetic_lego --model nerf --eval-background white --seconds "${SECONDS_TRAINED:-15}" \
    --out "$field" 2>&1 | grep -v "listed frames" | tail -n 2
size=${SIZE:-800x800}
bench() { # backend, library folder (empty: the pack's)
    LD_LIBRARY_PATH=${2:+$PWD/.device/$2:}$LD_LIBRARY_PATH timeout 120 .device/bin/radiant bench "$field" --backend "$1" \
        --width "${size%x*}" --height "${size#*x}" --frames "${FRAMES:-20}" 2>&1 | grep -E "^  (frame|wall clock|samples|.* ticks/4096)"
}
[ -n "${PROFILE:-}" ] && export RADIANT_NERF_VK_PROFILE=1
for round in $(seq "${ROUNDS:-2}"); do
    echo "round $round: cuda"; bench cuda ""
    echo "round $round: vulkan"; bench vulkan ""
    for v in ${VARIANTS:-}; do echo "round $round: vulkan, $v"; bench vulkan "$v"; done
done
