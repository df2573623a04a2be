#!/usr/bin/env bash
# device_run.sh: runs on the GPU machine from the repository root with .device/ carried
# (see device_prepare.sh): the GPU tests, then `radiant bench` on the CUDA backend.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
export RADIANT_DATA=$PWD/.device/data
bin=.device/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
status=0
for t in test_api test_backends test_render_reference; do
    "$bin/$t" >"${OUT:-/tmp}/$t.log" 2>&1 || status=1
    echo "$t: $(tail -n 1 "${OUT:-/tmp}/$t.log") (exit $?)"
    grep -E "backend|FAIL|differs|failed" "${OUT:-/tmp}/$t.log" | head -20
done
donut=$RADIANT_DATA/gaussian_splats/gshairlod_donut/fused.ply
for scene in "--demo" "$donut"; do
    for backend in cuda cpu; do
        [ "$backend" = cpu ] && frames=3 || frames=50
        echo "bench $backend $(basename -- "$scene"):"
        "$bin/radiant" bench $scene --backend $backend --frames $frames --json 2>&1 | tail -n 1
    done
done
exit $status
