#!/usr/bin/env bash
# device_train.sh: runs on the GPU machine from the repository root with .device/ carried
# (device_prepare.sh with LEGO=1, COLMAP=1 and/or FOX=1): `radiant train` on each dataset
# named in DATASETS (default: those present of nerf_synthetic_lego, colmap_bartoszek_test,
# instant_ngp_fox), the report of each into $OUT/NAME.report.json and its last lines to
# stdout, the scene itself left behind (too large to bring back). EXTRA: more options for
# every run (e.g. "--iterations 7000"); LIMIT: seconds each run may take (default 400);
# MODEL=nerf trains hash-grid NeRFs (lego's test views on white, training on random backgrounds);
# MODEL=4d 4D Gaussians (MUTANT=1 / PANOPTIC=1 packs: dnerf_mutant at 400x400 on black as the
# issue's protocol, panoptic_basketball_subset), with --backend cuda.
# TAIL: how many of the log's last lines to print (2).
# BENCH=1: `radiant bench` of each trained scene at 1920x1080 on CUDA (BENCH_SIZE=800x800 and
# BENCH_BACKENDS="cuda vulkan" say otherwise).
# COMPACT="F1 F2 ...": `radiant compact` of each trained scene with each prune fraction (importance,
# fine-tuning and PSNR on the dataset, on CUDA), its report into $OUT/NAME.compactF.report.json and
# its summary to stdout (COMPACT_EXTRA: more options for it); with BENCH=1 the compact scene is
# benched beside the original.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
data=$PWD/.device/data
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# the lines of `radiant bench` worth keeping: the frame (the backend's timers), its main stages,
# the host's wall clock and, for a 4D scene, the Gaussians sliced
bench_lines() { grep -E "^  (frame|preprocess|blend|wall clock|sliced) "; }
for name in ${DATASETS:-nerf_synthetic_lego colmap_bartoszek_test instant_ngp_fox}; do
    [ -d "$data/$name" ] || { echo "$name: not carried (device_prepare.sh LEGO=1 / COLMAP=1 / FOX=1)"; continue; }
    background="" ext=ply model="" downscale=""
    [ "$name" = nerf_synthetic_lego ] && background="--background white"
    if [ "${MODEL:-}" = nerf ]; then
        ext=rnerf model="--model nerf"
        [ "$name" = nerf_synthetic_lego ] && background="--eval-background white"
    fi
    if [ "${MODEL:-}" = 4d ]; then
        model="--model 4d --backend cuda"
        [ "$name" = dnerf_mutant ] && downscale="--downscale 2"
    fi
    scratch=$(mktemp -d)
    # line-buffered, so that a run stopped by the limit still leaves its progress lines
    timeout "${LIMIT:-400}" stdbuf -oL .device/bin/radiant train "$data/$name" $model $downscale --out "$scratch/$name.$ext" $background ${EXTRA:-} \
        >"$scratch/log.txt" 2>&1
    echo "$name: exit $? ($(grep -c . "$scratch/log.txt") log lines)"
    grep "training stage" "$scratch/log.txt"
    tail -n "${TAIL:-2}" "$scratch/log.txt"
    cp "$scratch/$name.report.json" "${OUT:-/tmp}/" 2>/dev/null
    if [ -n "${BENCH:-}" ] && [ -f "$scratch/$name.$ext" ]; then
        size=${BENCH_SIZE:-1920x1080}
        for backend in ${BENCH_BACKENDS:-cuda}; do
            echo "$name: $backend bench at $size (8 orbit views)"
            .device/bin/radiant bench "$scratch/$name.$ext" --backend "$backend" --width "${size%x*}" --height "${size#*x}" --frames 100 2>&1 |
                bench_lines
        done
    fi
    for prune in ${COMPACT:-}; do
        [ -f "$scratch/$name.$ext" ] || break
        echo "$name: compact --prune $prune"
        .device/bin/radiant compact "$scratch/$name.$ext" --out "$scratch/c$prune.rcompact" --prune "$prune" --dataset "$data/$name" \
            $downscale $background --backend cuda ${COMPACT_EXTRA:-} 2>&1 | grep -v "listed frames skipped"
        cp "$scratch/c$prune.report.json" "${OUT:-/tmp}/$name.compact$prune.report.json" 2>/dev/null
        if [ -n "${BENCH:-}" ] && [ -f "$scratch/c$prune.rcompact" ]; then
            for round in 1 2; do # the compact scene's frame against the original's, twice on each backend
                for backend in cuda vulkan; do
                    for scene in "$scratch/$name.$ext" "$scratch/c$prune.rcompact"; do
                        echo "$(basename "$scene"): $backend bench at 1352x1014, round $round"
                        .device/bin/radiant bench "$scene" --backend $backend --width 1352 --height 1014 --frames 200 2>&1 | bench_lines
                    done
                done
            done
        fi
    done
    rm -rf "$scratch"
done
