#!/usr/bin/env bash
# device_run.sh: runs on the GPU machine from the repository root with .device/ carried
# (see device_prepare.sh): the GPU tests, then `radiant bench` on the CUDA and Vulkan
# backends. TESTS="..." picks the tests (empty: none), SCENES, BACKENDS and FRAMES the
# benchmarks (SCENES: some of synth1M synth6M biker donut demo, the default, and synth20M synth6M4K); BACKWARD=1 adds the
# forward + backward column (bench --backward, wall clock); FEATURES=1 times a feature field
# (bench --features random) on each backend (FEATURE_VARIANTS="cuda/walk1 cuda/tensor": CUDA again with its levels walked one at a time, its decode on tensor cores), NCU_FEATURES=1 profiles its CUDA blend (ncu); STREAM=1 times a fixture stream's decode + render
# (tools/stream_bench.sh; STILL: the share of Gaussians a residual frame leaves alone, 0.99); FEATURE_TRAIN=1 times
# `radiant train --model features` at 988x730, D 512 (FEATURE_TRAIN_STEPS, _LEVELS, _SCENE, _BACKEND); CUBLAS=1 times
# cuBLAS's W D at the feature decode's size (PyTorch); SCALE=1
# times SCALE_GAUSSIANS (100M) synthetic Gaussians on each backend with the memory they take;
# since 2026-12-07 bench takes the packed layout on GPUs by default: FLOAT=1 benches each backend again with
# --float (rows cuda/f, vulkan/f: single precision, the rows before that date);
# HALF_SH=1 benches each backend again with --half-sh (rows cuda/h, vulkan/h), PACKED=1 with --packed (cuda/p,
# vulkan/p); PARTITIONED=1 Vulkan again with its sort ranked by subgroupPartitionNV (vulkan/r,
# RADIANT_VK_SORT_RANK=partitioned), EMIT_BLOCKS=1 with its emission a group a block of Gaussians
# (vulkan/e, RADIANT_VK_EMIT=blocks); SCALE takes --packed where PACKED is set, else --half-sh where HALF_SH is. frame_ms: the frame
# without stage timers; the stages and staged_ms: a second pass with them; rec_us, wait_us
# and call_us: the host's time in a frame (recording or launching, submit and wait, the
# whole call; medians, in microseconds); dev_MiB: the context's device buffers at most.
set -u
# RADIANT_LIB_DIR: another build of the library to load first (to compare variants)
export LD_LIBRARY_PATH=${RADIANT_LIB_DIR:+$RADIANT_LIB_DIR:}$PWD/.device/lib:${LD_LIBRARY_PATH:-}
export RADIANT_DATA=$PWD/.device/data
# the NVIDIA driver's Vulkan ICD, where the loader does not find it by itself
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f $nvidia_icd ] && export VK_DRIVER_FILES=$nvidia_icd
bin=${RADIANT_BIN_DIR:-.device/bin} # RADIANT_BIN_DIR: that build's programs
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
status=0
for t in ${TESTS-test_api test_primitives test_backends test_render_reference test_formats test_gpu_repeat test_vk_host test_hashgrid test_stream test_stream_encode}; do
    "$bin/$t" >"${OUT:-/tmp}/$t.log" 2>&1 || status=1
    echo "$t: $(tail -n 1 "${OUT:-/tmp}/$t.log") (exit $?)"
    grep -E "backend|vulkan|FAIL|differs|failed" "${OUT:-/tmp}/$t.log" | head -20
done
donut=$RADIANT_DATA/gaussian_splats/gshairlod_donut/fused.ply
biker=$RADIANT_DATA/gaussian_splats/playcanvas/biker.spz
# the issue's scenes: synthetic 1M and 6M (SH 3), the real biker and donut (SH 0), and the demo
printf "%-10s %-7s %9s %9s %9s %9s %9s %9s %9s %12s %9s %8s %8s %8s %8s\n" scene backend frame_ms pre_ms bin_ms sort_ms blend_ms staged_ms wall_ms pairs fwdbwd_ms rec_us wait_us call_us dev_MiB
for spec in "synth1M:--synth 1000000" "synth6M:--synth 6000000" "biker:$biker" "donut:$donut" "demo:--demo" \
            "synth20M:--synth 20000000" "synth6M4K:--synth 6000000 --width 3840 --height 2160"; do
    name=${spec%%:*} args=${spec#*:}
    case " ${SCENES:-synth1M synth6M biker donut demo} " in *" $name "*) ;; *) continue ;; esac
    layouts="${LAYOUTS:-}${HALF_SH:+ h}${PACKED:+ p}${FLOAT:+ f}"
    runs="${BACKENDS:-cuda vulkan} $(for l in $layouts; do for b in ${BACKENDS:-cuda vulkan}; do echo $b/$l; done; done)"
    case " ${BACKENDS:-cuda vulkan} " in *" vulkan "*) runs="$runs ${PARTITIONED:+vulkan/r} ${EMIT_BLOCKS:+vulkan/e}" ;; esac
    for run in $runs; do
        backend=${run%/*} half= rank= emit= # HALF_SH=1 (or LAYOUTS=h): each backend again with --half-sh; PACKED=1 (p): --packed
        case $run in */h) half=--half-sh ;; */p) half=--packed ;; */f) half=--float ;; */r) rank=partitioned ;; */e) emit=blocks ;; esac
        json=$(RADIANT_VK_SORT_RANK=${rank:-${RADIANT_VK_SORT_RANK:-}} RADIANT_VK_EMIT=${emit:-${RADIANT_VK_EMIT:-}} \
               "$bin/radiant" bench $args --backend $backend $half \
               --frames ${FRAMES:-50} ${BACKWARD:+--backward} --json 2>/dev/null | tail -n 1)
        python3 - "$name" "$run" "$json" <<'PY'
import json, sys
name, backend, text = sys.argv[1:4]
try:
    j = json.loads(text)
except ValueError:
    print(f"{name:10s} {backend:7s} failed: {text[:200]}")
    sys.exit(0)
s = j["stages"]
print(f"{name:10s} {backend:7s} {j['median_ms']:9.3f} {s['preprocess_ms']:9.3f} {s['binning_ms']:9.3f} "
      f"{s['sort_ms']:9.3f} {s['blend_ms']:9.3f} {j['median_staged_ms']:9.3f} {j['median_wall_ms']:9.3f} "
      f"{j['mean_intersections']:12.0f} {j['median_forward_backward_ms']:9.3f}", end="")
c = j["counts"] # the host's time in a frame: recording (Vulkan) or launching (CUDA), submit and wait, the call
print(f" {c.get('host_record_us', c.get('host_launch_us', 0)):8.0f} {c.get('host_submit_wait_us', c.get('host_wait_us', 0)):8.0f}"
      f" {c.get('host_call_us', 0):8.0f} {j['device_bytes_peak'] / 2**20:8.0f}")
PY
    done
done
if [ -n "${FEATURES:-}" ]; then # issue 31's targets: a random field over 1M synthetic Gaussians at LERF's 988x730
    for run in ${BACKENDS:-cuda vulkan} ${FEATURE_VARIANTS:-}; do # cuda/walkN: levels walked N at a time; cuda/tensor, cuda/cores: the decode on tensor cores or CUDA cores; cuda/mma, cuda/scatter: the walk's sums on tensor cores or scattered (cuda/mma3: three levels a walk)
        walk= decode= sum=
        case $run in */walk*) walk=${run#*/walk} ;; */tensor) decode=tensor ;; */cores) decode=cores ;;
                     */mma*) sum=tensor walk=${run#*/mma} ;; */scatter) sum=scatter ;; esac
        echo "$run:"
        RADIANT_CUDA_FEATURE_WALK=$walk RADIANT_CUDA_FEATURE_DECODE=$decode RADIANT_CUDA_FEATURE_SUM=$sum "$bin/radiant" bench --synth ${FEATURES_GAUSSIANS:-1000000} \
            --features random --width 988 --height 730 --backend ${run%/*} --frames ${FRAMES:-50} 2>&1 | tail -n 7
    done
fi
if [ -n "${CUBLAS:-}" ]; then # issue 31's decode against cuBLAS: F = W D for a level of 988x730 pixels (L 64, D 512)
    # through PyTorch's matmul (cuBLAS), halves and TF32 floats, the product alone (our decode also normalises and
    # writes halves in the blend's launch: compare with bench's "level 1's features" less its walk)
    python3 - <<'PY'
import time
import torch
torch.backends.cuda.matmul.allow_tf32 = True
for dtype in (torch.half, torch.float):
    W = torch.rand(988 * 730, 64, device="cuda", dtype=dtype)
    D = torch.rand(64, 512, device="cuda", dtype=dtype)
    for _ in range(5):
        W @ D
    torch.cuda.synchronize()
    start = time.time()
    for _ in range(50):
        W @ D
    torch.cuda.synchronize()
    print(f"cuBLAS (torch) W @ D, {dtype}: {(time.time() - start) / 50 * 1e3:.3f} ms")
PY
fi
if [ -n "${FEATURE_TRAIN:-}" ]; then # issue 31's training target: one level of a field (D 512) at 988x730 on CUDA,
    # FEATURE_TRAIN_STEPS steps (10000), over the synthetic feature scene's masks (feature_scene_tool, 12 views);
    # FEATURE_TRAIN_SCENE=synth1M trains over 1M synthetic Gaussians instead of the dataset's own few thousand
    dir=/tmp/radiant_feature_scene scene=/tmp/radiant_feature_scene/scene.ply
    [ -d $dir ] || "$bin/feature_scene_tool" $dir 988 730 512 12 || echo "feature_scene_tool failed"
    if [ "${FEATURE_TRAIN_SCENE:-}" = synth1M ]; then scene=/tmp/radiant_synth1M.ply; "$bin/radiant" synth 1000000 --out $scene >/dev/null; fi
    "$bin/radiant" train $dir --model features --scene $scene --out /tmp/radiant_feature_train.rfeat --levels ${FEATURE_TRAIN_LEVELS:-1} \
        --iterations ${FEATURE_TRAIN_STEPS:-10000} --backend ${FEATURE_TRAIN_BACKEND:-cuda} --checkpoint-every 100000000 2>&1 | tr '\r' '\n' | tail -n 3
    python3 -c "import json; j = json.load(open('/tmp/radiant_feature_train.rfeat.report.json')); print('feature training:', j.get('backend'), j['iterations'], 'steps', round(j['training_seconds'], 2), 's, test cosine', j.get('test_cosine'))"
fi
if [ -n "${NCU_FEATURES:-}" ]; then # where the feature blend's time goes: Nsight Compute on three level_kernel launches
    ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
    "${ncu:-ncu}" --clock-control none -k regex:level_kernel -c 3 --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section WarpStateStats --section MemoryWorkloadAnalysis --section SchedulerStats \
        "$bin/radiant" bench --synth 1000000 --features random --width 988 --height 730 --backend cuda --frames 3 --warmup 1 2>&1 |
        grep -v "^==PROF==" | tail -n 200
fi
if [ -n "${STREAM:-}" ]; then # issue 32's decode + render and seeks (tools/stream_bench.sh: STILL, BACKENDS)
    bash tools/stream_bench.sh
fi
if [ -n "${SCALE:-}" ]; then # issue 35's scale: SCALE_GAUSSIANS (100M) at 1920x1080 on each backend, and the memory it needs
    for backend in ${BACKENDS:-cuda vulkan}; do
        json=$("$bin/radiant" bench --synth ${SCALE_GAUSSIANS:-100000000} --backend $backend ${HALF_SH:+--half-sh} ${PACKED:+--packed} --frames 5 --warmup 1 \
               --json 2>&1 | tail -n 1)
        python3 - "$backend" "$json" <<'PY'
import json, sys
backend, text = sys.argv[1:3]
try:
    j = json.loads(text)
except ValueError:
    print(f"scale {backend}: failed: {text[:300]}")
    sys.exit(0)
print(f"scale {backend}: {j['gaussians']} Gaussians, frame {j['median_ms']:.2f} ms, wall {j['median_wall_ms']:.2f} ms, "
      f"device buffers {j['device_bytes_peak'] / 2**30:.2f} GiB, host peak RSS {j['host_peak_rss_bytes'] / 2**30:.2f} GiB")
PY
    done
fi
exit $status
