#!/usr/bin/env bash
# cli_training_test.sh RADIANT_BINARY: `radiant train` beyond cli_test.sh's brief lego run:
# resuming from a checkpoint, a broken one, NeRFs (trained, described, rendered, timed,
# pruned) and 4D scenes (trained, resumed). Each run loads a whole dataset, which is most
# of their time, so this test is labelled long: the release build runs it, the sanitizer
# build leaves it to cli_test.sh's one training run. Prints "N passed, M failed".
set -u
radiant_binary=$1
run_radiant() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$radiant_binary" "$@"; }
radiant=run_radiant
data=${RADIANT_DATA:-$(dirname "$0")/../../shared/data}
source "$(dirname "$0")/script_checks.sh"
if [ ! -d "$data" ]; then
    echo "cli_training: skipped: no shared data at $data"
    exit 77
fi

check "train lego briefly" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/lego_fit.spz" --iterations 20 \
    --downscale 16 --points 500 --background white --sh-degree 1 --eval-every 10 --checkpoint-every 10
check "train resumes from a checkpoint" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/lego_fit.spz" \
    --iterations 30 --downscale 16 --points 500 --background white --sh-degree 1 --resume "$tmp/lego_fit.checkpoint"
check "the resumed run starts at iteration 20" grep -q "resuming at iteration 20 " "$tmp/stdout"
printf 'RDTRAIN1 and nothing else' > "$tmp/bad.checkpoint"
check "a broken checkpoint fails" status_is 1 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/x.spz" --iterations 30 \
    --downscale 16 --points 500 --resume "$tmp/bad.checkpoint"
check "a broken checkpoint is named" grep -q "bad.checkpoint" "$tmp/stderr"
# a NeRF: one step of a small field (the occupancy grid's update of every cell dominates)
check "train a NeRF briefly" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/lego.rnerf" \
    --steps 1 --downscale 16 --levels 4 --table-size 12 --width 16 --batch 4096 --seed 3 --test-views 3
check "the NeRF's test PSNR is reported, on the views asked" grep -q "test split: 3 views, mean PSNR" "$tmp/stdout"
check "the NeRF's report names its model" grep -Eq '"model":[[:space:]]*"nerf"' "$tmp/lego.report.json"
check "info describes the NeRF" status_is 0 "$radiant" info "$tmp/lego.rnerf"
check "info gives its parameters" grep -q "^parameters: .* in the table" "$tmp/stdout"
check "info gives what its snapshot stores" grep -q "^stored: .* parameters (.*%; the table entries rendering reaches)" "$tmp/stdout"
check "the NeRF's report gives its snapshot's bytes, the file's" \
    grep -Eq "\"snapshot_bytes\":[[:space:]]*$(stat -c %s "$tmp/lego.rnerf")[,}]" "$tmp/lego.report.json"
check "render draws the NeRF" status_is 0 "$radiant" render "$tmp/lego.rnerf" --backend cpu --dataset "$data/nerf_synthetic_lego" \
    --width 20 --height 20 --out "$tmp/nerf_render"
check "the NeRF's renders are written" test -s "$tmp/nerf_render/r_0.png"
check "render orbits a NeRF without cameras" status_is 0 "$radiant" render "$tmp/lego.rnerf" --backend cpu --width 16 --height 12 \
    --out "$tmp/nerf_orbit"
check "the NeRF's orbit is about +z" grep -q "orbit about up = (0, 0, 1) (a NeRF's default" "$tmp/stderr"
check "bench times a NeRF" status_is 0 "$radiant" bench "$tmp/lego.rnerf" --backend cpu --width 16 --height 12 --frames 1 \
    --warmup 0 --json
check "bench names the NeRF's stage and samples" grep -q '"kind": "nerf".*"stages": {"render_ms": [0-9.]*}, "counts": {"samples": [0-9]' \
    "$tmp/stdout"
check "bench --backward refuses a NeRF" status_is 1 "$radiant" bench "$tmp/lego.rnerf" --backend cpu --width 16 --height 12 \
    --frames 1 --warmup 0 --backward
check "a NeRF written as .ply exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/x.ply"
check "a .rnerf without --model nerf exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/x.rnerf"
check "--model nerf with --resume exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf \
    --out "$tmp/x.rnerf" --resume "$tmp/lego_fit.checkpoint"
check "--width 0 exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/x.rnerf" --width 0
check "the NeRF's report gives the moving average's decay" grep -Eq '"average_decay":[[:space:]]*0.95' "$tmp/lego.report.json"
check "--average 1 exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/x.rnerf" --average 1
check "--prune-budget 0 exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/x.rnerf" \
    --prune-budget 0
check "train a pruned NeRF briefly" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/pruned.rnerf" \
    --steps 1 --downscale 16 --levels 2 --table-size 10 --width 16 --batch 4096 --test-views 1 --prune-budget 0.1
check "the pruned NeRF's report gives its budget and mask" grep -Eq '"mask_params":[[:space:]]*262144' "$tmp/pruned.report.json"
check "info shows the mask" status_is 0 "$radiant" info "$tmp/pruned.rnerf"
check "info gives the mask's size" grep -q "^mask: *saliency 64^3 (262144 logits)" "$tmp/stdout"
check "train a pruned NeRF with its mask and ADMM set" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --model nerf \
    --out "$tmp/pruned32.rnerf" --steps 1 --downscale 16 --levels 2 --table-size 10 --width 16 --batch 4096 --test-views 1 \
    --prune-budget 0.1 --mask-resolution 32 --admm-rho 0.01 --admm-every 4
check "  (the mask is 32^3)" grep -Eq '"mask_params":[[:space:]]*32768' "$tmp/pruned32.report.json"
check "  (the report gives rho and the interval)" sh -c "grep -Eq '\"admm_rho\":[[:space:]]*0.01' '$tmp/pruned32.report.json' && grep -Eq '\"admm_every\":[[:space:]]*4' '$tmp/pruned32.report.json'"
check "--mask-resolution 1 exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model nerf --out "$tmp/x.rnerf" \
    --prune-budget 0.1 --mask-resolution 1
# 4D: a few steps on mutant at 1/16 size, two views a step, each test view at its time
check "train a 4D scene on mutant briefly" status_is 0 "$radiant" train "$data/dnerf_mutant" --model 4d --out "$tmp/mutant_fit.ply" \
    --iterations 20 --downscale 16 --points 500 --batch 2 --test-views 4 --checkpoint-every 10
check "the 4D fit reports the test PSNR" grep -q "test split: 4 views, mean PSNR" "$tmp/stdout"
check "the 4D report names the model and batch" grep -q '"model":[[:space:]]*"4d"' "$tmp/mutant_fit.report.json"
check "the 4D report gives the batch" grep -Eq '"batch":[[:space:]]*2' "$tmp/mutant_fit.report.json"
check "info reads the 4D fit" status_is 0 "$radiant" info "$tmp/mutant_fit.ply"
check "the 4D fit is a 4D scene" grep -q "^sh degree: *3 spatial, 2 temporal" "$tmp/stdout"
check "the 4D fit wrote a checkpoint" test -s "$tmp/mutant_fit.checkpoint"
check "4D resumes from its checkpoint" status_is 0 "$radiant" train "$data/dnerf_mutant" --model 4d --out "$tmp/mutant_fit.ply" \
    --iterations 30 --downscale 16 --points 500 --batch 2 --test-views 4 --resume "$tmp/mutant_fit.checkpoint"
check "4D resumed at its step" grep -q "resuming at iteration 20" "$tmp/stdout"

# Ctrl-C: the run writes a checkpoint, says where, exits 130, and resumes from it. The
# signal goes once the first progress line is out (SIGINT's handler is in by then; stdout
# line-buffered so that the line shows).
stdbuf -oL "$radiant_binary" train "$data/nerf_synthetic_lego" --out "$tmp/stopped.spz" --iterations 200000 --downscale 16 \
    --points 500 --sh-degree 1 --checkpoint-every 100000 > "$tmp/stopped.out" 2> "$tmp/stopped.err" &
pid=$!
for _ in $(seq 1 1200); do grep -q "^iteration" "$tmp/stopped.out" && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
stopped=$?
check "Ctrl-C stops training with 130" test "$stopped" -eq 130
check "Ctrl-C writes a checkpoint and says so" grep -q "interrupted at iteration [0-9]*: wrote .*stopped.checkpoint" "$tmp/stopped.err"
check "the checkpoint is there" test -s "$tmp/stopped.checkpoint"
check "no scene is written for a stopped run" test ! -e "$tmp/stopped.spz"
at=$(sed -n 's/.*interrupted at iteration \([0-9]*\).*/\1/p' "$tmp/stopped.err")
check "the interrupted run resumes" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/stopped.spz" \
    --iterations $(( ${at:-0} + 10 )) --downscale 16 --points 500 --sh-degree 1 --resume "$tmp/stopped.checkpoint"
check "  at the step it stopped" grep -q "resuming at iteration ${at:-none} " "$tmp/stdout"

echo "cli_training: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
