#!/usr/bin/env bash
# device_stream.sh: issue 32's protocol on the GPU machine, from a PANOPTIC=1 pack
# (tools/device_prepare.sh): basketball encoded as a stream on CUDA (frame 0 whole, frames
# 1-9 residuals) with each frame's test PSNR, its size and bitrate, decode + render times on
# CUDA and Vulkan at 1352x1014, then frames BASE_FRAMES each trained whole with frame 0's
# budget for comparison. FIRST and ITER set the iterations; ENCODE_ARGS adds options.
# Note (2026-12-05): with the encoder's step on the host this did not finish in 590 s; since
# c378527 every residual step runs on the device (not yet timed); since 18b6e38 the state comes back
# to the host around each densification (every two passes over the views).
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib RADIANT_DATA=$PWD/.device/data
bin=.device/bin P=$RADIANT_DATA/panoptic_basketball_subset out=${OUT:-/tmp}
FIRST=${FIRST:-7000} ITER=${ITER:-200}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
start=$(date +%s)
$bin/radiant stream encode $P --out $out/p.rstream --backend cuda --first-iterations $FIRST --iterations $ITER --sh-degree 2 \
    ${ENCODE_ARGS:-} 2>&1 | grep --line-buffered -v "^\s*iteration"
echo "encode: $(( $(date +%s) - start )) s"
$bin/radiant info $out/p.rstream | tail -8
for b in cuda vulkan; do $bin/radiant bench $out/p.rstream --backend $b --width 1352 --height 1014 2>&1 | tail -6; done
for k in ${BASE_FRAMES-1 3 5 7 9}; do
    echo -n "frame $k whole: "
    $bin/radiant stream encode $P --frames $k:$k --out $out/b$k.rstream --backend cuda --first-iterations $FIRST --sh-degree 2 \
        2>&1 | grep -o "test PSNR [0-9.]* dB" | tail -1
done
