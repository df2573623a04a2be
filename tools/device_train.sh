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
# BENCH=1: `radiant bench` of each trained scene on the test split's views and at 1920x1080.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
data=$PWD/.device/data
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for name in ${DATASETS:-nerf_synthetic_lego colmap_bartoszek_test instant_ngp_fox}; do
    [ -d "$data/$name" ] || { echo "$name: not carried (device_prepare.sh LEGO=1 / COLMAP=1 / FOX=1)"; continue; }
    background="" ext=ply model=""
    [ "$name" = nerf_synthetic_lego ] && background="--background white"
    if [ "${MODEL:-}" = nerf ]; then
        ext=rnerf model="--model nerf"
        [ "$name" = nerf_synthetic_lego ] && background="--eval-background white"
    fi
    if [ "${MODEL:-}" = 4d ]; then
        model="--model 4d --backend cuda"
        [ "$name" = dnerf_mutant ] && model="$model --downscale 2"
    fi
    scratch=$(mktemp -d)
    # line-buffered, so that a run stopped by the limit still leaves its progress lines
    timeout "${LIMIT:-400}" stdbuf -oL .device/bin/radiant train "$data/$name" $model --out "$scratch/$name.$ext" $background ${EXTRA:-} \
        >"$scratch/log.txt" 2>&1
    echo "$name: exit $? ($(grep -c . "$scratch/log.txt") log lines)"
    grep "training stage" "$scratch/log.txt"
    tail -n "${TAIL:-2}" "$scratch/log.txt"
    cp "$scratch/$name.report.json" "${OUT:-/tmp}/" 2>/dev/null
    if [ -n "${BENCH:-}" ] && [ -f "$scratch/$name.$ext" ]; then
        echo "$name: bench on the test split's views"
        .device/bin/radiant bench "$scratch/$name.$ext" --backend cuda --dataset "$data/$name" --split test --frames 100 2>&1 | tail -n 4
        echo "$name: bench at 1920x1080 (8 orbit views)"
        .device/bin/radiant bench "$scratch/$name.$ext" --backend cuda --frames 100 2>&1 | tail -n 4
    fi
    rm -rf "$scratch"
done
