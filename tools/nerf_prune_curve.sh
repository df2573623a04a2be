#!/usr/bin/env bash
# nerf_prune_curve.sh: runs on the GPU machine from the repository root with a LEGO=1 pack
# carried (device_prepare.sh): issue 26's curve of test PSNR against parameters (HollowNeRF's
# Table 1) on lego, `radiant train --model nerf` for SECONDS_EACH (default 15) at each table size
# in SIZES (default "14 15 16 17 18 19"), unpruned and with `--prune-budget BUDGET` (default
# 0.1), on CUDA; one line a run: size, budget, steps, parameters stored, test PSNR.
# LIMIT: seconds a run may take (default 120); EXTRA: more options for every run.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}
data=$PWD/.device/data/nerf_synthetic_lego
[ -d "$data" ] || { echo "nerf_synthetic_lego: not carried (device_prepare.sh LEGO=1)"; exit 1; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
printf '%-6s %-7s %8s %12s %9s\n' "table" "budget" "steps" "parameters" "PSNR"
for size in ${SIZES:-14 15 16 17 18 19}; do
    for budget in 0 "${BUDGET:-0.1}"; do
        scratch=$(mktemp -d)
        prune=""
        [ "$budget" != 0 ] && prune="--prune-budget $budget"
        timeout "${LIMIT:-120}" .device/bin/radiant train "$data" --model nerf --backend cuda --eval-background white \
            --table-size "$size" --seconds "${SECONDS_EACH:-15}" $prune ${EXTRA:-} --out "$scratch/lego.rnerf" >"$scratch/log.txt" 2>&1
        status=$?
        # "wrote ... after N steps, S s of training: P parameters stored, M MiB" and "test split: ... mean PSNR X dB"
        steps=$(sed -n 's/.* after \([0-9]*\) steps.*/\1/p' "$scratch/log.txt" | tail -1)
        params=$(sed -n 's/.*: \([0-9]*\) parameters stored.*/\1/p' "$scratch/log.txt" | tail -1)
        psnr=$(sed -n 's/.*mean PSNR \([0-9.]*\) dB.*/\1/p' "$scratch/log.txt" | tail -1)
        printf '2^%-4s %-7s %8s %12s %9s%s\n' "$size" "$budget" "${steps:--}" "${params:--}" "${psnr:--}" \
            "$([ $status -eq 0 ] || echo "  (exit $status: $(tail -1 "$scratch/log.txt"))")"
        rm -rf "$scratch"
    done
done
