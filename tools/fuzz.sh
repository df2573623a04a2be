#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses with clang (build-fuzz/,
# ASan + UBSan + float-cast-overflow) and fuzzes each (scene, dataset, colmap, image,
# checkpoint, features, stream, nerf; all by default) for SECONDS (default 600) from its seed corpus (tests/fuzz/corpus/NAME), its
# regressions and its dictionary (tests/fuzz/dict/NAME.dict). libFuzzer first replays
# every one of those inputs, so a regression fails at once. New corpus entries go to
# fuzz-out/NAME/corpus, findings to fuzz-out/NAME/ (crash-*, oom-*, timeout-*). A finding,
# once fixed, goes into tests/fuzz/regressions/NAME so that ctest replays it for ever.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
harnesses=${*:-scene dataset colmap image checkpoint features stream nerf}
CC=${CC:-clang} cmake -S . -B build-fuzz -DRADIANT_FUZZ=ON -DRADIANT_CUDA=OFF -DRADIANT_VULKAN=OFF -DRADIANT_VIEWER=OFF \
    -DRADIANT_TESTS=OFF >/dev/null
# the harnesses and the library only: radiant's command is no harness's (its 20 files under the
# fuzz build's instrumentation were an eighth of its CPU time, 11 of 80 s)
targets=()
for h in $harnesses; do targets+=("fuzz_$h"); done
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}" >/dev/null
# one harness a core at a time (each is single-threaded): on CI's 2 cores the 8 harnesses take
# 4 rounds of SECONDS instead of 8
fuzz_one() {
    local h=$1 out=fuzz-out/$1
    mkdir -p "$out/corpus"
    # memory tied to the input: on inputs of at most 64 KiB the decode limit is its floor,
    # 256 MiB (RD_DECODE_LIMIT_FLOOR), so no single allocation may pass 300 MiB and the
    # process may not pass 1 GiB
    build-fuzz/tests/fuzz/fuzz_$h -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 -malloc_limit_mb=300 \
        -dict=tests/fuzz/dict/$h.dict -artifact_prefix="$out/" -print_final_stats=1 \
        "$out/corpus" tests/fuzz/corpus/$h tests/fuzz/regressions/$h \
        >"$out/log" 2>&1
}
jobs_at_once=$(nproc)
declare -A pid_of
for h in $harnesses; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_at_once" ]; do wait -n || true; done
    fuzz_one "$h" &
    pid_of[$h]=$!
done
status=0
for h in $harnesses; do
    wait "${pid_of[$h]}" || status=1
    echo "fuzz_$h: $seconds s"
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "fuzz-out/$h/log" | tail -3
    ls "fuzz-out/$h" | grep -E '^(crash|oom|timeout|leak)-' || true
done
exit $status
