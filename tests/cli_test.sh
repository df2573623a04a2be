#!/usr/bin/env bash
# cli_test.sh RADIANT_BINARY [VIDEO_FRAMES [FEATURE_SCENE_TOOL [STREAM_FIXTURE_TOOL [VIDEO_DATASET_TOOL]]]]: the `radiant` command end to end: help and exit codes,
# render with a camera list and with a dataset (report.json, PNG, EXR), info, bench,
# and errors that leave no output behind. Prints "N passed, M failed".
set -u
radiant_binary=$1
video_frames=${2:-} # tests/video_frames.c: decodes a video and compares it with PNG frames
feature_tool=${3:-} # tests/feature_scene_tool.c: the feature fields' synthetic dataset
stream_tool=${4:-}  # tests/stream_fixture_tool.c: random residual streams
video_tool=${5:-}   # tests/video_dataset_tool.c: a small multi-view video dataset
# the sanitizer run's preload (tests/CMakeLists.txt) goes into radiant only
run_radiant() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$radiant_binary" "$@"; }
radiant=run_radiant
data=${RADIANT_DATA:-$(dirname "$0")/../../shared/data}
source "$(dirname "$0")/script_checks.sh"

check "--help exits 0" status_is 0 "$radiant" --help
check "render --help exits 0" status_is 0 "$radiant" render --help
check "bench --help exits 0" status_is 0 "$radiant" bench --help
check "no command exits 2" status_is 2 "$radiant"
check "unknown command exits 2" status_is 2 "$radiant" frobnicate
check "render without a scene exits 2" status_is 2 "$radiant" render
check "unknown option exits 2" status_is 2 "$radiant" render --demo --bogus
check "bad background exits 2" status_is 2 "$radiant" render --demo --background pink
check "width without height exits 2" status_is 2 "$radiant" render --demo --width 10
# options against the ranges their help states
check "background above 1 exits 2" status_is 2 "$radiant" render --demo --background 2,0,0
check "background NaN exits 2" status_is 2 "$radiant" render --demo --background nan,0,0
check "background out of range says the range" grep -q "each in \[0, 1\]" "$tmp/stderr"
check "--split without --dataset exits 2" status_is 2 "$radiant" render --demo --split all
check "--split without --dataset says why" grep -q "give --dataset too" "$tmp/stderr"
check "--split bogus exits 2" status_is 2 "$radiant" render --demo --dataset "$tmp" --split bogus
check "bench --frames 0 exits 2" status_is 2 "$radiant" bench --demo --frames 0
check "bench --frames 0 says why" grep -q "at least one frame" "$tmp/stderr"
check "--synth 0 exits 2" status_is 2 "$radiant" bench --synth 0
check "--synth 0 says why" grep -q "at least one" "$tmp/stderr"

# a camera list, rendered from the demo scene
cp "$(dirname "$0")/two_cameras.json" "$tmp/cams.json" # two cameras of the demo scene, rotations rounded by hand
check "render --cameras succeeds" status_is 0 "$radiant" render --demo --cameras "$tmp/cams.json" --out "$tmp/cams" --exr --background white
check "render wrote 0000.png" test -s "$tmp/cams/0000.png"
check "render wrote 0001.png" test -s "$tmp/cams/0001.png"
check "render wrote 0001.exr" test -s "$tmp/cams/0001.exr"
check "report.json lists both views" grep -q '"name":[[:space:]]*"0001"' "$tmp/cams/report.json"
check "report.json has mean_ms" grep -q '"mean_ms"' "$tmp/cams/report.json"
check "render prints the frame time" grep -q "frame time" "$tmp/stdout"
# a camera that is not a rigid transform renders nothing: refused with the file, camera, problem
cat >"$tmp/zero.json" <<'JSON'
{"cameras": [{"width": 64, "height": 36, "fx": 60, "fy": 60, "cx": 32, "cy": 18,
  "w2c": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]}]}
JSON
check "render with an all-zero w2c exits 1" status_is 1 "$radiant" render --demo --cameras "$tmp/zero.json" --out "$tmp/zero"
check "render with an all-zero w2c says where and why" grep -q "zero.json: camera 0000: .*last row" "$tmp/stderr"
check "render with an all-zero w2c writes nothing" test ! -e "$tmp/zero/0000.png"

# --save-cameras: the cameras a render used, as a camera list that renders the same images
check "render --save-cameras" status_is 0 "$radiant" render --demo --width 64 --height 36 --save-cameras "$tmp/used.json" --out "$tmp/orbit"
check "render --cameras with the saved list" status_is 0 "$radiant" render --demo --cameras "$tmp/used.json" --out "$tmp/again"
check "the saved cameras render the same images" cmp -s "$tmp/orbit/0003.png" "$tmp/again/0003.png"
# --views N: the orbit's count; its first view is the 8-view orbit's first
check "render --views 3" status_is 0 "$radiant" render --demo --width 64 --height 36 --views 3 --out "$tmp/three"
check "--views 3 wrote three views" test -e "$tmp/three/0002.png" -a ! -e "$tmp/three/0003.png"
check "--views 3's first view is the orbit's first" cmp -s "$tmp/orbit/0000.png" "$tmp/three/0000.png"
check "--views 0 exits 2" status_is 2 "$radiant" render --demo --views 0
check "--views with --cameras exits 2" status_is 2 "$radiant" render --demo --views 2 --cameras "$tmp/used.json"
check "--views with --cameras says why" grep -q "a camera list gives its own" "$tmp/stderr"

# a folder with an earlier render: files of the same names replaced and counted; frames the
# earlier report.json names that this render does not write removed; nothing else touched
touch "$tmp/orbit/keep.txt" "$tmp/orbit/0100.png"
check "render fewer views into a folder used before" status_is 0 "$radiant" render --demo --cameras "$tmp/cams.json" --out "$tmp/orbit"
check "says what it replaced" grep -q "replaced 3 files of an earlier render" "$tmp/stdout"
check "says what it removed" grep -q "removed 6 files of an earlier render (named in its report.json)" "$tmp/stdout"
check "the earlier frames it did not write are gone" test ! -e "$tmp/orbit/0005.png"
check "files no report named are kept" test -e "$tmp/orbit/keep.txt" -a -e "$tmp/orbit/0100.png"
# an earlier report.json that is broken, or names files outside the folder, removes nothing
mkdir -p "$tmp/odd" && echo "keep" >"$tmp/outside.png" && echo "not json {" >"$tmp/odd/report.json"
check "render over a broken earlier report" status_is 0 "$radiant" render --demo --cameras "$tmp/cams.json" --out "$tmp/odd"
printf '{"views": [{"name": "../outside"}, {"name": ".."}, {"name": 7}]}' >"$tmp/odd/report.json"
check "render over a report naming files outside" status_is 0 "$radiant" render --demo --cameras "$tmp/cams.json" --out "$tmp/odd"
check "nothing outside the folder is removed" test -e "$tmp/outside.png"

# info: no -0, no empty lines, counts in words that agree with their number
{
    printf 'ply\nformat binary_little_endian 1.0\nelement vertex 1\n'
    for p in x y z f_dc_0 f_dc_1 f_dc_2 opacity scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3; do printf 'property float %s\n' $p; done
    printf 'end_header\n'
    printf '\000\000\000\200%.0s' 1 2 3           # x y z: -0
    printf '\000\000\000\000%.0s' 1 2 3 4 5 6 7   # colour, opacity, scales
    printf '\000\000\200\077'                      # rot_0 = 1
    printf '\000\000\000\000%.0s' 1 2 3
} >"$tmp/one.ply"
check "info on a one-Gaussian scene" status_is 0 "$radiant" info "$tmp/one.ply"
check "info prints no -0" test -z "$(grep -e '-0[^.0-9]' -e '-0$' "$tmp/stdout")"
check "info counts in words that agree" grep -q "1 element, vertex 1 row of 56 bytes" "$tmp/stdout"
check "convert it to SPZ" status_is 0 "$radiant" convert "$tmp/one.ply" "$tmp/one.spz"
check "info on SPZ prints no empty properties line" status_is 0 "$radiant" info "$tmp/one.spz"
check "no empty properties line" test -z "$(grep -E '^properties: *$' "$tmp/stdout")"
check "info says the SPZ's frame and why" grep -q "frame RUB (the file's coordinate-system record)" "$tmp/stdout"
check "convert to SPZ in a z-up frame" status_is 0 "$radiant" convert "$tmp/one.ply" "$tmp/one_rfu.spz" --out-spz-frame RFU
check "info reads its record" status_is 0 "$radiant" info "$tmp/one_rfu.spz"
check "info says RFU" grep -q "frame RFU (the file's coordinate-system record)" "$tmp/stdout"
check "info with --spz-frame" status_is 0 "$radiant" info "$tmp/one_rfu.spz" --spz-frame rdf
check "info says the frame was given" grep -q "frame RDF (given by the caller)" "$tmp/stdout"
check "a bad --spz-frame fails" status_is 1 "$radiant" info "$tmp/one_rfu.spz" --spz-frame up
check "the message names the option's field" grep -q 'spz_frame "up": not a frame' "$tmp/stderr"

# SH a format cannot hold is named when it is dropped
check "synth with SH" status_is 0 "$radiant" synth 500 --out "$tmp/sh3.ply"
check "convert SH 3 to .splat" status_is 0 "$radiant" convert "$tmp/sh3.ply" "$tmp/sh3.splat"
check "the SH dropped is named" grep -q "warning: .*splat holds colour only: SH degrees 1..3 of the 500 Gaussians" "$tmp/stderr"

# 4D scenes: the synthetic one as a 4D PLY, described, rendered at two times
check "synth --time-extent writes a 4D PLY" status_is 0 "$radiant" synth 3000 --time-extent 2 --out "$tmp/moving.ply"
check "info describes the 4D scene" status_is 0 "$radiant" info "$tmp/moving.ply"
check "info gives its time range and degrees" grep -q "^sh degree: *3 spatial, 2 temporal (cosine terms of period 2)" "$tmp/stdout"
check "render --time 0.3" status_is 0 "$radiant" render "$tmp/moving.ply" --backend cpu --time 0.3 --width 64 --height 48 \
    --out "$tmp/t03"
check "render --time 1.6" status_is 0 "$radiant" render "$tmp/moving.ply" --backend cpu --time 1.6 --width 64 --height 48 \
    --out "$tmp/t16"
check "the report gives the time" grep -Eq '"time":[[:space:]]*1.6' "$tmp/t16/report.json"
check "the two times differ" status_is 1 cmp -s "$tmp/t03/0000.png" "$tmp/t16/0000.png"
check "--time on a static scene exits 2" status_is 2 "$radiant" render "$tmp/sh3.ply" --time 1 --width 16 --height 16 --out "$tmp/x"
check "--time on a static scene says so" grep -q "static scene" "$tmp/stderr"
check "--time nan exits 2" status_is 2 "$radiant" render "$tmp/moving.ply" --time nan --out "$tmp/x"
check "render --times 0:2:3 of two cameras" status_is 0 "$radiant" render "$tmp/moving.ply" --backend cpu --times 0:2:3 \
    --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/times"
check "--times writes each camera at each time" test "$(ls "$tmp/times"/*_t[0-2].png | wc -l)" -eq "$((3 * $(grep -o '"w2c"' "$tmp/cams.json" | wc -l)))"
check "--times gives each view's time" grep -Eq '"time":[[:space:]]*2([,}[:space:]]|$)' "$tmp/times/report.json"
check "--time with --times exits 2" status_is 2 "$radiant" render "$tmp/moving.ply" --time 1 --times 0:1:2 --out "$tmp/x"
check "--times 0:1:0 exits 2" status_is 2 "$radiant" render "$tmp/moving.ply" --times 0:1:0 --out "$tmp/x"
check "bench times a 4D scene" status_is 0 "$radiant" bench "$tmp/moving.ply" --backend cpu --width 32 --height 24 --frames 3 \
    --warmup 0 --json
check "bench names the 4D kind and its slice" grep -q '"kind": "gaussians-4d".*"sliced": [0-9]' "$tmp/stdout"
check "convert --time writes the 3D slice" status_is 0 "$radiant" convert "$tmp/moving.ply" "$tmp/slice.ply" --time 1
check "the slice is a static scene" status_is 0 "$radiant" info "$tmp/slice.ply"
check "the slice keeps no time" status_is 1 grep -q "temporal" "$tmp/stdout"
check "the slice renders as the 4D scene at that time" status_is 0 "$radiant" render "$tmp/slice.ply" --backend cpu \
    --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/slice_r"
check "  (the 4D scene at time 1)" status_is 0 "$radiant" render "$tmp/moving.ply" --backend cpu --time 1 \
    --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/moving_r"
check "  (the same pixels)" cmp -s "$tmp/slice_r/0000.png" "$tmp/moving_r/0000.png"
check "convert --time of a static scene exits 2" status_is 2 "$radiant" convert "$tmp/sh3.ply" "$tmp/x.ply" --time 1
check "bench --time of a static scene fails" status_is 1 "$radiant" bench "$tmp/sh3.ply" --time 1 --frames 1 --width 16 --height 16
check "bench --time fixes the 4D scene's time" status_is 0 "$radiant" bench "$tmp/moving.ply" --backend cpu --time 1 \
    --width 32 --height 24 --frames 2
# --video: the frames as H.264 too, decoded back (video_frames) against the PNGs
if [ -n "$video_frames" ]; then
    if "$radiant_binary" render "$tmp/moving.ply" --backend cpu --times 0:2:12 --cameras "$tmp/cams.json" --width 64 --height 48 \
            --video "$tmp/moving.mp4" --fps 24 --out "$tmp/video" >"$tmp/stdout" 2>"$tmp/stderr"; then
        # 4:2:0 halves the colour of these pixel-sized splats: 25 dB, where smooth frames keep 38 (test_video)
        check "the video's frames are the PNGs, in order" "$video_frames" 22 "$tmp/moving.mp4" \
            $(for k in $(seq -w 0 11); do for v in 0000 0001; do echo "$tmp/video/${v}_t$k.png"; done; done)
        check "the report names the video and its rate" grep -q '"video_fps":[[:space:]]*24' "$tmp/video/report.json"
        check "--video at an odd size exits 1" status_is 1 "$radiant" render "$tmp/moving.ply" --width 63 --height 48 \
            --cameras "$tmp/cams.json" --video "$tmp/odd.mp4" --out "$tmp/odd"
        check "the odd size is named" grep -q "odd.mp4: H.264 in 4:2:0 takes an even width and height .* 63x48" "$tmp/stderr"
        check "and no video is left" test ! -e "$tmp/odd.mp4"
        check "--fps 0 exits 2" status_is 2 "$radiant" render "$tmp/moving.ply" --video "$tmp/x.mp4" --fps 0 --out "$tmp/x"
    elif grep -q "video needs FFmpeg's libraries" "$tmp/stderr"; then
        echo "  --video: skipped (radiant was built without FFmpeg's libraries)"
    else
        check "render --video" false
        cat "$tmp/stderr"
    fi
fi
# feature fields: the synthetic dataset in LangSplat's layout, trained briefly, described, queried
if [ -n "$feature_tool" ]; then
    check "write the feature dataset" status_is 0 "$feature_tool" "$tmp/feat"
    check "train --model features" status_is 0 "$radiant" train "$tmp/feat" --model features --scene "$tmp/feat/scene.ply" \
        --out "$tmp/feat/scene.rfeat" --iterations 40 --codebook-size 40 --checkpoint-every 20
    check "  (the held-out views' cosine)" grep -q "test: mean cosine" "$tmp/stdout"
    check "  (the report beside the field)" grep -q '"curve"' "$tmp/feat/scene.rfeat.report.json"
    check "  (a checkpoint beside it)" test -s "$tmp/feat/scene.rfeat.checkpoint"
    check "  (the backend in the report)" grep -q '"backend":' "$tmp/feat/scene.rfeat.report.json"
    # four steps on: the resume is the question, not more training (20 steps took 8 s under the sanitizers)
    check "train --model features --resume continues" status_is 0 "$radiant" train "$tmp/feat" --model features \
        --scene "$tmp/feat/scene.ply" --out "$tmp/feat/more.rfeat" --iterations 44 --codebook-size 40 --resume "$tmp/feat/scene.rfeat.checkpoint"
    check "  (from iteration 40)" grep -q "resuming at iteration 40" "$tmp/stdout"
    check "info describes a feature field" status_is 0 "$radiant" info "$tmp/feat/scene.rfeat"
    check "  (levels, slots, bytes)" sh -c "grep -q 'levels:      3' '$tmp/stdout' && grep -q '36 bytes a Gaussian' '$tmp/stdout'"
    check "query the test views" status_is 0 "$radiant" query "$tmp/feat/scene.ply" --dataset "$tmp/feat" \
        --embeddings "$tmp/feat/queries.npy" --negatives "$tmp/feat/negatives.npy" --out "$tmp/featq"
    check "  (a heat map and a raw map a view and query)" sh -c "test -s '$tmp/featq/t_1_q27.png' && test -s '$tmp/featq/t_1_q27.npy'"
    check "  (levels and peaks in the report)" sh -c "grep -q '\"level\":.3' '$tmp/featq/report.json' && grep -q '\"peak\"' '$tmp/featq/report.json'"
    check "query on Vulkan" status_is 0 "$radiant" query "$tmp/feat/scene.ply" --dataset "$tmp/feat" --backend vulkan \
        --embeddings "$tmp/feat/queries.npy" --negatives "$tmp/feat/negatives.npy" --out "$tmp/featv"
    check "  (the same levels as the CPU's)" sh -c "grep '\"level\"' '$tmp/featq/report.json' > '$tmp/l1'; grep '\"level\"' '$tmp/featv/report.json' > '$tmp/l2'; cmp -s '$tmp/l1' '$tmp/l2'"
    check "bench --features random" status_is 0 "$radiant" bench "$tmp/feat/scene.ply" --features random --width 48 --height 36 \
        --frames 2 --warmup 1 --codebook-size 16 --dim 8 --json
    check "  (its three outputs timed)" grep -q '"coefficients_ms": [0-9].*"relevancy_ms": [0-9].*"features_half_ms": [0-9]' "$tmp/stdout"
    check "bench --features of the trained field" status_is 0 "$radiant" bench "$tmp/feat/scene.ply" --features "$tmp/feat/scene.rfeat" \
        --width 48 --height 36 --frames 2 --warmup 1
    check "render --output features" status_is 0 "$radiant" render "$tmp/feat/scene.ply" --dataset "$tmp/feat" --output features \
        --level 3 --out "$tmp/featr"
    check "  (a PCA colouring and the raw map beside each render)" sh -c "test -s '$tmp/featr/t_0_features.png' && test -s '$tmp/featr/t_0_features.npy'"
    check "render --level without --output features exits 2" status_is 2 "$radiant" render "$tmp/feat/scene.ply" --level 2
    check "query --backend bogus exits 2" status_is 2 "$radiant" query "$tmp/feat/scene.ply" --backend bogus --embeddings "$tmp/feat/queries.npy"
    printf 'not numpy' > "$tmp/feat/bad.npy"
    check "query with a broken .npy exits 1" status_is 1 "$radiant" query "$tmp/feat/scene.ply" --embeddings "$tmp/feat/bad.npy"
    check "  (naming the file)" grep -q "bad.npy: not a .npy file" "$tmp/stderr"
    check "query with a 3-D array of embeddings exits 1" status_is 1 "$radiant" query "$tmp/feat/scene.ply" \
        --embeddings "$tmp/feat/language_features/r_0_s.npy"
    check "  (saying its shape)" grep -q "r_0_s.npy: shape: expected a non-empty 1-D or 2-D array, found 3" "$tmp/stderr"
    check "train --model features to a .ply exits 2" status_is 2 "$radiant" train "$tmp/feat" --model features \
        --scene "$tmp/feat/scene.ply" --out "$tmp/x.ply"
    check "train --model features --backend vulkan exits 2" status_is 2 "$radiant" train "$tmp/feat" --model features \
        --scene "$tmp/feat/scene.ply" --out "$tmp/x.rfeat" --backend vulkan
    check "train --levels 4 exits 2" status_is 2 "$radiant" train "$tmp/feat" --model features --scene "$tmp/feat/scene.ply" \
        --out "$tmp/x.rfeat" --levels 4
    check "train --levels 1: a field of one level" status_is 0 "$radiant" train "$tmp/feat" --model features \
        --scene "$tmp/feat/scene.ply" --out "$tmp/feat/one.rfeat" --levels 1 --iterations 4 --codebook-size 16
    check "  (one level written)" grep -q "one.rfeat (1 level of 16 entries" "$tmp/stdout"
    check "  (info reads one level)" status_is 0 "$radiant" info "$tmp/feat/one.rfeat"
    check "  (and says so)" grep -q "^levels: *1$" "$tmp/stdout"
    mv "$tmp/feat/language_features/r_3_s.npy" "$tmp/feat/r_3_s.npy"
    check "train without a view's masks exits 1" status_is 1 "$radiant" train "$tmp/feat" --model features \
        --scene "$tmp/feat/scene.ply" --out "$tmp/x.rfeat" --iterations 1
    check "  (naming the file)" grep -q "r_3_s.npy" "$tmp/stderr"
    check "  (writing nothing)" test ! -e "$tmp/x.rfeat"
fi

# residual streams: info, render of frames, bench; damage reported, playback going on
if [ -n "$stream_tool" ]; then
    check "write a stream" status_is 0 "$stream_tool" "$tmp/s.rstream" 12 300 1 5 3
    check "info describes a stream" status_is 0 "$radiant" info "$tmp/s.rstream"
    check "  (frames, intra frames, bitrate)" sh -c "grep -q 'frames:      12 (3 intra)' '$tmp/stdout' && grep -q 'bitrate:' '$tmp/stdout'"
    check "render --frames 1:3" status_is 0 "$radiant" render "$tmp/s.rstream" --frames 1:3 --backend cpu --cameras "$tmp/cams.json" \
        --width 32 --height 24 --out "$tmp/sr"
    check "  (a PNG a view and frame, the report)" sh -c "test -s '$tmp/sr/0000_f0001.png' && test -s '$tmp/sr/0001_f0003.png' && grep -q '\"decode_ms\"' '$tmp/sr/report.json'"
    if [ -n "$video_frames" ] && "$radiant_binary" render "$tmp/s.rstream" --frames 0:5 --backend cpu --cameras "$tmp/cams.json" \
            --width 32 --height 24 --video "$tmp/s.mp4" --out "$tmp/sv" >"$tmp/stdout" 2>"$tmp/stderr"; then
        check "render a stream --video: each frame's first view, in order" "$video_frames" 20 "$tmp/s.mp4" \
            $(for k in 0000 0001 0002 0003 0004 0005; do echo "$tmp/sv/0000_f$k.png"; done)
        check "  (at the stream's rate, 30 a second)" grep -q '"video_fps":[[:space:]]*30' "$tmp/sv/report.json"
    elif [ -n "$video_frames" ] && ! grep -q "video needs FFmpeg's libraries" "$tmp/stderr"; then
        check "render a stream --video" false
    fi
    check "render every frame of a stream" status_is 0 "$radiant" render "$tmp/s.rstream" --backend cpu --cameras "$tmp/cams.json" \
        --width 32 --height 24 --out "$tmp/sall"
    mkfifo "$tmp/live.rstream"
    (cat "$tmp/s.rstream" > "$tmp/live.rstream" &)
    check "render a stream from a pipe, frames as they arrive" status_is 0 "$radiant" render "$tmp/live.rstream" --backend cpu \
        --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/slive"
    check "  (said, and every frame the file's)" sh -c "grep -q 'is a pipe' '$tmp/stderr' && cmp -s '$tmp/slive/0001_f0011.png' '$tmp/sall/0001_f0011.png'"
    check "bench a stream" status_is 0 "$radiant" bench "$tmp/s.rstream" --backend cpu --cameras "$tmp/cams.json" --width 32 --height 24
    check "  (decode, render and seek times)" sh -c "grep -q 'decode + render' '$tmp/stdout' && grep -q 'seek  ' '$tmp/stdout'"
    check "render a stream decoded on Vulkan" status_is 0 "$radiant" render "$tmp/s.rstream" --frames 1:3 --backend vulkan \
        --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/srv"
    check "  (residuals decoded on the device, a PNG a view and frame)" sh -c "grep -q 'residuals on the device' '$tmp/stdout' && test -s '$tmp/srv/0001_f0003.png'"
    check "bench a stream on Vulkan" status_is 0 "$radiant" bench "$tmp/s.rstream" --backend vulkan --cameras "$tmp/cams.json" \
        --width 32 --height 24
    check "  (decoded and rendered in device memory)" grep -q 'decoded and rendered in device memory' "$tmp/stdout"
    check "render --frames past the end exits 2" status_is 2 "$radiant" render "$tmp/s.rstream" --frames 5:12 --backend cpu
    check "render --frames 3:2 exits 2" status_is 2 "$radiant" render "$tmp/s.rstream" --frames 3:2 --backend cpu
    size=$(stat -c %s "$tmp/s.rstream")
    head -c $((size * 2 / 3)) "$tmp/s.rstream" > "$tmp/cut.rstream"
    check "info of a cut stream" status_is 0 "$radiant" info "$tmp/cut.rstream"
    check "  (warns: no index)" grep -q "has no index" "$tmp/stderr"
    check "a cut stream renders its whole frames" status_is 0 "$radiant" render "$tmp/cut.rstream" --backend cpu \
        --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/scut"
    cp "$tmp/s.rstream" "$tmp/flip.rstream"
    offset=$(($(grep -obUa RDFRAME "$tmp/s.rstream" | sed -n 3p | cut -d: -f1) + 80))
    printf '\xff' | dd of="$tmp/flip.rstream" bs=1 seek="$offset" conv=notrunc 2>/dev/null
    check "a damaged frame fails the render" status_is 1 "$radiant" render "$tmp/flip.rstream" --backend cpu \
        --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/sflip"
    check "  (naming frame 2, going on from the next intra frame)" sh -c "grep -q 'frame 2: the checksum fails' '$tmp/stderr' && grep -q 'going on from frame 5' '$tmp/stderr'"
    check "  (the frames after it rendered)" test -s "$tmp/sflip/0000_f0011.png"
    check "info of a file that is not a stream exits 1" status_is 1 "$radiant" info "$tmp/cams.json.rstream"
fi
if [ -n "$video_tool" ]; then
    mkdir -p "$tmp/video"
    check "write a multi-view video" status_is 0 "$video_tool" "$tmp/video"
    check "stream encode --split" status_is 0 "$radiant" stream encode "$tmp/video" --out "$tmp/video.rstream" --first-iterations 150 \
        --iterations 30 --points 400 --sh-degree 0 --backend cpu --split
    check "  (a line a frame, with the test PSNR)" sh -c "grep -q 'frame 2 (residual)' '$tmp/stdout' && grep -q 'test PSNR' '$tmp/stdout'"
    check "  (the static/dynamic split's count of changing Gaussians)" sh -c "grep -q 'frame 1 (residual).* changing' '$tmp/stdout' && grep -q '\"changing\"' '$tmp/video.report.json'"
    check "  (the report beside it)" grep -q '"test_psnr"' "$tmp/video.report.json"
    check "  (a stream of 3 frames)" sh -c "'$radiant_binary' info '$tmp/video.rstream' | grep -q 'frames:      3 (1 intra)'"
    check "render the stream with the test split" status_is 0 "$radiant" render "$tmp/video.rstream" --dataset "$tmp/video" \
        --backend cpu --out "$tmp/videor"
    check "  (each frame its own views: 2 a frame, with PSNR)" sh -c "test -s '$tmp/videor/test_c1_t2_f0002.png' && test ! -e '$tmp/videor/test_c1_t2_f0001.png' && grep -q 'mean over 3 frames' '$tmp/stdout'"
    check "stream encode --keyframe-every 2" status_is 0 "$radiant" stream encode "$tmp/video" --out "$tmp/video2.rstream" \
        --first-iterations 20 --iterations 5 --points 100 --sh-degree 0 --backend cpu --keyframe-every 2 --latent-shrink 0.01
    check "  (frame 2 intra)" grep -q 'frame 2 (intra)' "$tmp/stdout"
    check "  (no densification by default: no new Gaussians)" sh -c "! grep -q ' gone' '$tmp/stdout'"
    check "  (no split by default: no count of changing Gaussians)" sh -c "! grep -q 'changing' '$tmp/stdout'"
    check "stream encode --latents 1,1,1,1" status_is 0 "$radiant" stream encode "$tmp/video" --out "$tmp/video3.rstream" \
        --first-iterations 20 --iterations 5 --points 100 --sh-degree 0 --backend cpu --keyframe-every 2 --no-split --no-densify --latent-shrink 0.01 --latents 1,1,1,1
    residual_bytes() { "$radiant_binary" info "$1" | sed -n 's/.*mean residual frame \([0-9]*\) bytes.*/\1/p'; }
    check "  (a smaller residual frame than with the default sizes)" \
        test "$(residual_bytes "$tmp/video3.rstream")" -lt "$(residual_bytes "$tmp/video2.rstream")"
    check "stream encode --densify-every 2 --densify-gradient 1e-9 --rest-latents 2" status_is 0 "$radiant" stream encode "$tmp/video" \
        --out "$tmp/video4.rstream" --frames 0:2 --first-iterations 20 --iterations 5 --points 100 --sh-degree 1 --backend cpu \
        --densify-every 2 --densify-gradient 1e-9 --rest-latents 2
    check "  (the residual frame grew: its line and report count the new Gaussians)" \
        sh -c "grep -q 'frame 1 (residual).* new, [0-9]* gone' '$tmp/stdout' && grep -q '\"added\"' '$tmp/video4.report.json'"
    check "  (and plays: the mapping and f_rest's latents read back)" status_is 0 "$radiant" render "$tmp/video4.rstream" \
        --dataset "$tmp/video" --backend cpu --out "$tmp/video4r"
    check "stream encode --densify (QUEEN's schedule: every two passes over the views)" status_is 0 "$radiant" stream encode "$tmp/video" \
        --out "$tmp/video5.rstream" --frames 0:1 --first-iterations 20 --iterations 20 --points 100 --sh-degree 0 --backend cpu \
        --densify --densify-gradient 1e-9
    check "  (the residual frame grew)" grep -q 'frame 1 (residual).* new, [0-9]* gone' "$tmp/stdout"
    check "--latent-shrink -1 exits 2" status_is 2 "$radiant" stream encode "$tmp/video" --out "$tmp/x.rstream" --latent-shrink -1
    check "--rest-latents 65 exits 2" status_is 2 "$radiant" stream encode "$tmp/video" --out "$tmp/x.rstream" --rest-latents 65
    check "--densify-every 0 exits 2" status_is 2 "$radiant" stream encode "$tmp/video" --out "$tmp/x.rstream" --densify-every 0
    check "--latents with a size of 0 exits 2" status_is 2 "$radiant" stream encode "$tmp/video" --out "$tmp/x.rstream" --latents 8,8,0,3
    check "stream encode to a .ply exits 2" status_is 2 "$radiant" stream encode "$tmp/video" --out "$tmp/x.ply"
    check "stream without encode exits 2" status_is 2 "$radiant" stream
    check "stream encode of a missing dataset exits 1" status_is 1 "$radiant" stream encode "$tmp/nothing" --out "$tmp/x.rstream"
    check "  (writing nothing)" test ! -e "$tmp/x.rstream"
fi

# compact: 3D and 4D, the report beside it, info's parts, bad usage
check "compact a 3D scene" status_is 0 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/sh3.rcompact" --prune 0.25
check "compact prints the parts" grep -q "codebooks .* bits a Gaussian" "$tmp/stdout"
check "compact writes its report" grep -q '"times_smaller"' "$tmp/sh3.report.json"
check "info lists a compact file's parts" status_is 0 "$radiant" info "$tmp/sh3.rcompact"
check "  (the format and sh_rest)" sh -c "grep -q 'format:      rcompact' '$tmp/stdout' && grep -q 'sh_rest' '$tmp/stdout'"
check "compact a 4D scene" status_is 0 "$radiant" compact "$tmp/moving.ply" --out "$tmp/moving.rcompact"
check "a compact 4D scene renders at a time" status_is 0 "$radiant" render "$tmp/moving.rcompact" --backend cpu --time 1 \
    --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/moving_c"
check "info reads a compact 4D scene" status_is 0 "$radiant" info "$tmp/moving.rcompact"
check "  (as 4D, with its parts)" sh -c "grep -q 'rcompact (XYZT' '$tmp/stdout' && grep -q 'positions' '$tmp/stdout'"
check "compact a 4D scene with appearance networks" status_is 0 "$radiant" compact "$tmp/moving.ply" --out "$tmp/nets.rcompact" \
    --appearance networks --network-steps 20
check "  (its report and parts say so)" sh -c "grep -q '\"appearance\":.*\"networks\"' '$tmp/nets.report.json' && grep -q 'networks' '$tmp/stdout'"
check "  (and the steps that fitted them)" grep -Eq '"network_steps":[[:space:]]*20[^0-9]' "$tmp/nets.report.json"
check "it renders at a time" status_is 0 "$radiant" render "$tmp/nets.rcompact" --backend cpu --time 0.5 \
    --cameras "$tmp/cams.json" --width 32 --height 24 --out "$tmp/nets_c"
check "it does not convert to a 4D PLY" status_is 1 "$radiant" convert "$tmp/nets.rcompact" "$tmp/nets.ply"
check "  (the error says why)" grep -q "appearance networks" "$tmp/stderr"
check "compact --merge" status_is 0 "$radiant" compact "$tmp/moving.ply" --out "$tmp/merged.rcompact" --merge
check "  (the report counts the merged)" grep -q '"merged":' "$tmp/merged.report.json"
check "compact --appearance of a 3D scene exits 1" status_is 1 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/x.rcompact" \
    --appearance networks
check "compact --appearance other exits 2" status_is 2 "$radiant" compact "$tmp/moving.ply" --out "$tmp/x.rcompact" --appearance other
check "compact --prune 1 exits 2" status_is 2 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/x.rcompact" --prune 1
check "compact to another name exits 2" status_is 2 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/x.ply"
check "compact below the least budget exits 1" status_is 1 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/x.rcompact" \
    --target-bits-per-gaussian 20
check "  (and says the least)" grep -q "at least 88" "$tmp/stderr"
check "  (and writes nothing)" test ! -e "$tmp/x.rcompact"
check "a 4D scene converts to .spz with a clear error" status_is 1 "$radiant" convert "$tmp/moving.ply" "$tmp/moving.spz"
check "the error says a 4D scene saves as its PLY" grep -q "4D Gaussians scene saves as its own file, named .ply" "$tmp/stderr"
check "a 4D scene does not write a .compressed.ply" status_is 1 "$radiant" convert "$tmp/moving.ply" "$tmp/moving.compressed.ply"
check "  (it says it is a 3D format, and writes nothing)" sh -c "grep -q 'not .compressed.ply, a 3D format' '$tmp/stderr' && test ! -e '$tmp/moving.compressed.ply'"
check "a 4D scene converts to its own PLY, its count said" status_is 0 "$radiant" convert "$tmp/moving.ply" "$tmp/moving_again.ply"
check "  (the report gives the 4D count)" grep -Eq "\(4D, [1-9][0-9]* Gaussians\)" "$tmp/stdout"

# Vulkan headless: no window system at all (no DISPLAY, no WAYLAND_DISPLAY)
if env -u DISPLAY -u WAYLAND_DISPLAY "LD_PRELOAD=${RADIANT_TEST_PRELOAD:-}" "$radiant_binary" render --demo --backend vulkan \
        --cameras "$tmp/cams.json" --out "$tmp/vk" >"$tmp/stdout" 2>"$tmp/stderr"; then
    check "vulkan render wrote 0001.png" test -s "$tmp/vk/0001.png"
    check "vulkan render says its backend" grep -q "vulkan backend" "$tmp/stdout"
    check "vulkan bench runs headless" status_is 0 env -u DISPLAY -u WAYLAND_DISPLAY "LD_PRELOAD=${RADIANT_TEST_PRELOAD:-}" \
        "$radiant_binary" bench --demo --backend vulkan --frames 2 --warmup 1 --width 96 --height 64
    check "vulkan bench reports the blend stage" grep -q "blend" "$tmp/stdout"
    check "vulkan bench reports its device memory" grep -Eq "memory +[0-9.]+ MiB of the context's device buffers" "$tmp/stdout"
    check "vulkan bench --json gives the device memory" status_is 0 env -u DISPLAY -u WAYLAND_DISPLAY \
        "LD_PRELOAD=${RADIANT_TEST_PRELOAD:-}" "$radiant_binary" bench --demo --backend vulkan --frames 1 --warmup 0 --width 96 \
        --height 64 --json
    check "  (above zero)" grep -Eq '"device_bytes_peak": [1-9][0-9]*, "host_peak_rss_bytes": [1-9]' "$tmp/stdout"
    check "  (the packed layout, a GPU's default)" grep -q '"layout": "packed"' "$tmp/stdout"
    check "vulkan bench --float keeps single precision" status_is 0 env -u DISPLAY -u WAYLAND_DISPLAY \
        "LD_PRELOAD=${RADIANT_TEST_PRELOAD:-}" "$radiant_binary" bench --demo --backend vulkan --frames 1 --warmup 0 --width 96 \
        --height 64 --json --float
    check "  (said in its report)" grep -q '"layout": "float"' "$tmp/stdout"
elif grep -q "backend vulkan: \(not available in this build\|no Vulkan\|no usable\)" "$tmp/stderr"; then
    echo "cli: vulkan checks skipped: $(head -n 1 "$tmp/stderr")"
else
    check "vulkan render succeeds (or says there is no Vulkan)" false
    cat "$tmp/stderr"
fi

# errors: exit 1, a message naming the file, nothing written
check "missing scene exits 1" status_is 1 "$radiant" render "$tmp/missing.ply" --out "$tmp/fail1"
check "missing scene is named" grep -q "missing.ply" "$tmp/stderr"
check "failed render leaves no report" test ! -e "$tmp/fail1/report.json"
echo '{"cameras": [{"width": 64}]}' >"$tmp/bad.json"
check "bad camera list exits 1" status_is 1 "$radiant" render --demo --cameras "$tmp/bad.json" --out "$tmp/fail2"
check "bad camera list names the key" grep -q "bad.json: cameras\[0\].height: missing" "$tmp/stderr"
check "bad camera list leaves no output" test ! -e "$tmp/fail2/0000.png"
check "unavailable backend exits 1" status_is 1 "$radiant" render --demo --backend cuda --cameras "$tmp/cams.json" --out "$tmp/fail3"

check "bench --json succeeds" status_is 0 "$radiant" bench --demo --cameras "$tmp/cams.json" --frames 2 --warmup 1 --json
check "bench --json prints median_ms and stages" grep -q '"median_ms": [0-9.]*, "stages": {"preprocess_ms"' "$tmp/stdout"
check "bench on the CPU keeps single precision" status_is 0 "$radiant" bench --demo --backend cpu --cameras "$tmp/cams.json" \
    --frames 1 --warmup 0 --json
check "  (said in its report)" grep -q '"layout": "float"' "$tmp/stdout"
check "bench --json times the stages in a pass of their own" grep -q '"blend_ms": [0-9.]*}, "counts": {[^}]*}, "median_staged_ms": [0-9.]' "$tmp/stdout"
# the warm-up's one-second rule is test_cli_parts' (with a clock it controls); here, what
# holds at any speed: the requested frames ran, and --warmup 0 runs none
check "bench runs the warm-up frames asked for" status_is 0 "$radiant" bench --demo --cameras "$tmp/cams.json" --frames 1 --warmup 3 --json
check "bench warmed up with at least 3 frames" grep -q '"warmup": \([3-9]\|[1-9][0-9][0-9]*\),' "$tmp/stdout"
check "bench --warmup 0 succeeds" status_is 0 "$radiant" bench --demo --cameras "$tmp/cams.json" --frames 1 --warmup 0 --json
check "bench --warmup 0 warms up not at all" grep -q '"warmup": 0,' "$tmp/stdout"

if [ -d "$data" ]; then
    donut="$data/gaussian_splats/gshairlod_donut/fused.ply"
    check "info on the donut" status_is 0 "$radiant" info "$donut"
    check "info reports the count" grep -q "gaussians:   45624" "$tmp/stdout"
    check "info reports the properties" grep -q "properties:  x y z f_dc_0" "$tmp/stdout"
    check "info on a dataset" status_is 0 "$radiant" info "$data/instant_ngp_fox"
    check "info reports skipped frames" grep -q "skipped:  17" "$tmp/stdout"
    check "info on a dataset's split" status_is 0 "$radiant" info "$data/nerf_synthetic_lego" --split train
    check "info lists the split asked for" grep -qx "split: *train" "$tmp/stdout"
    check "info on a COLMAP model folder fails" status_is 1 "$radiant" info "$data/colmap_bartoszek_test/sparse/0"
    check "info on a COLMAP model folder gives the dataset's root" grep -q "give the dataset's root folder, $data/colmap_bartoszek_test" "$tmp/stderr"
    check "render --dataset lego val" status_is 0 "$radiant" render "$donut" --dataset "$data/nerf_synthetic_lego" --split val --background white --out "$tmp/lego"
    # a dynamic dataset: a 4D scene renders each view at the view's own time
    check "info on D-NeRF mutant gives its times" status_is 0 "$radiant" info "$data/dnerf_mutant" --split test
    check "mutant's kind and time range" grep -q "^time: *0 .. 1 (each view its own" "$tmp/stdout"
    check "mutant's camera moves: a pose a view" grep -q "^cameras: *20 (each view its own pose" "$tmp/stdout"
    check "info on Panoptic counts cameras and frames" status_is 0 "$radiant" info "$data/panoptic_basketball_subset" --split all
    check "Panoptic's 31 cameras, 10 frames, none missing" grep -q "^cameras: *31 (distinct" "$tmp/stdout"
    check "Panoptic's 10 frames" grep -q "^frames: *10 (distinct times)" "$tmp/stdout"
    check "Panoptic's grid is whole" grep -q "^grid: *0 of 310 camera-frame pairs have no view" "$tmp/stdout"
    check "render a 4D scene on mutant's test views" status_is 0 "$radiant" render "$tmp/moving.ply" --dataset "$data/dnerf_mutant" \
        --backend cpu --width 16 --height 16 --out "$tmp/mutant4d"
    check "each view's time is in the report" test "$(grep -c '"time":' "$tmp/mutant4d/report.json")" -eq 20
    check "the last test view is at time 1" grep -Eq '"time":[[:space:]]*1([,}[:space:]]|$)' "$tmp/mutant4d/report.json"
    check "dataset views are named after frames" test -s "$tmp/lego/r_10.png"
    check "report has PSNR per view" grep -q '"psnr"' "$tmp/lego/report.json"
    check "report has mean SSIM" grep -q '"mean_ssim"' "$tmp/lego/report.json"
    check "report states the split" grep -q '"split":[[:space:]]*"val"' "$tmp/lego/report.json"
    # the orbit's up is told from the scene (the donut lies flat along z), and --up overrides it
    check "render the donut's orbit" status_is 0 "$radiant" render "$donut" --width 32 --height 18 --out "$tmp/donut_orbit"
    check "the donut orbits about +z" grep -q "orbit about up = (0, 0, 1), told from the scene" "$tmp/stderr"
    check "render with --up -y" status_is 0 "$radiant" render "$donut" --width 32 --height 18 --up -y --out "$tmp/donut_y"
    check "--up -y is used" grep -q "orbit about up = (0, -1, 0)$" "$tmp/stderr"
    check "--up w exits 2" status_is 2 "$radiant" render "$donut" --up w
    # train: a few steps on lego at 1/16 size, written as SPZ, the test split measured
    check "train lego briefly" status_is 0 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/lego_fit.spz" --iterations 20 \
        --downscale 16 --points 500 --background white --sh-degree 1 --eval-every 10 --checkpoint-every 10
    check "train wrote the scene" test -s "$tmp/lego_fit.spz"
    check "train reports the test PSNR" grep -q "test split: 20 views, mean PSNR" "$tmp/stdout"
    check "train's progress lines show the last evaluation" grep -Eq "iteration +20 .* it/s  test [0-9.]+ dB" "$tmp/stdout"
    check "train wrote its report beside the scene" grep -q '"mean_psnr"' "$tmp/lego_fit.report.json"
    check "the report has the training curve" grep -q '"curve"' "$tmp/lego_fit.report.json"
    check "info reads the trained scene" status_is 0 "$radiant" info "$tmp/lego_fit.spz"
    check "train writes checkpoints" test -s "$tmp/lego_fit.checkpoint"
    # resuming, broken checkpoints, NeRFs and 4D scenes: tests/cli_training_test.sh (labelled long)
    check "4D with --strategy mcmc exits 2" status_is 2 "$radiant" train "$data/dnerf_mutant" --model 4d --out "$tmp/x.ply" --strategy mcmc
    check "4D written as .spz exits 2" status_is 2 "$radiant" train "$data/dnerf_mutant" --model 4d --out "$tmp/x.spz"
    check "--model other exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --model voxels --out "$tmp/x.rnerf"
    check "train without --out exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego"
    check "train --downscale 0 exits 2" status_is 2 "$radiant" train "$data/nerf_synthetic_lego" --out "$tmp/x.ply" --downscale 0
    check "train on a missing dataset fails" status_is 1 "$radiant" train "$tmp/nowhere" --out "$tmp/nowhere.ply"
    check "a failed train writes nothing" test ! -e "$tmp/nowhere.ply"
    # the decode limit: a caller's lower limit refuses the donut (2.4 MiB decoded), none lifts it
    check "info under a 1 MiB decode limit fails" status_is 1 "$radiant" info "$donut" --decode-limit 1
    check "the decode limit is named" grep -q "beyond the decode limit of 1.0 MiB" "$tmp/stderr"
    check "convert under a 1 MiB decode limit fails" status_is 1 "$radiant" convert "$donut" "$tmp/limited.spz" --decode-limit 1
    check "nothing written past the decode limit" test ! -e "$tmp/limited.spz"
    check "render with --decode-limit none" status_is 0 "$radiant" render "$donut" --width 8 --height 8 --decode-limit none --out "$tmp/unlimited"
    check "--decode-limit 0 exits 2" status_is 2 "$radiant" render "$donut" --decode-limit 0
    # convert: every writable format from a real scene, read back by info
    for out in donut.spz donut.splat donut.compressed.ply donut.ply donut.glb donut.gltf; do
        check "convert to $out" status_is 0 "$radiant" convert "$donut" "$tmp/$out"
        check "convert reports bytes a Gaussian ($out)" grep -q "bytes a Gaussian" "$tmp/stdout"
        check "info reads $out" status_is 0 "$radiant" info "$tmp/$out"
        check "info counts $out" grep -q "gaussians:   45624" "$tmp/stdout"
    done
    check "a .gltf's buffer lands beside it" test -s "$tmp/donut.bin"
    check "convert --gltf-embed" status_is 0 "$radiant" convert "$donut" "$tmp/embedded.gltf" --gltf-embed
    check "an embedded .gltf reads back" status_is 0 "$radiant" info "$tmp/embedded.gltf"
    check "info names glTF's frame" grep -q "glTF's frame (LUF)" "$tmp/stdout"
    check "info reports SPZ header fields" status_is 0 "$radiant" info "$tmp/donut.spz"
    # the donut is 0.2 units across: its SPZ precision follows from that (19 bits, not 12), and says so
    check "info shows the SPZ version and precision" grep -q "header:      SPZ v4: numPoints 45624, shDegree 0, fractionalBits 19" "$tmp/stdout"
    check "convert to SPZ says the precision it chose" status_is 0 "$radiant" convert "$donut" "$tmp/again.spz"
    check "the precision is in steps and bits" grep -q "steps of 1.91e-06 units (19 fractional bits, for coordinates up to 0.1095)" "$tmp/stderr"
    check "a coarse precision by hand" status_is 0 "$radiant" convert "$donut" "$tmp/coarse.spz" --spz-fractional-bits 12
    check "a coarse precision by hand is warned about" grep -q "warning: .*steps of 0.000244 units (12 fractional bits): coarse" "$tmp/stderr"
    # PSNR at a size other than the dataset's: not computed, and said
    check "render lego at another size" status_is 0 "$radiant" render "$donut" --dataset "$data/nerf_synthetic_lego" --split val \
        --width 100 --height 100 --out "$tmp/lego_small"
    check "the metrics not computed are said" grep -q "PSNR and SSIM not computed for 10 views: the render is 100x100 and the dataset's image 800x800" "$tmp/stderr"
    check "report.json says why" grep -q '"not_compared":[[:space:]]*"the render is 100x100' "$tmp/lego_small/report.json"
    check "convert --spz-fractional-bits" status_is 0 "$radiant" convert "$tmp/donut.spz" "$tmp/fine.spz" --spz-fractional-bits 16
    check "info shows 16 fractional bits" sh -c "LD_PRELOAD='${RADIANT_TEST_PRELOAD:-}' '$radiant_binary' info '$tmp/fine.spz' | grep -q 'fractionalBits 16'"
    check "convert --format spz ignores the name" status_is 0 "$radiant" convert "$donut" "$tmp/named.bin" --format spz
    check "info reads the renamed SPZ" sh -c "LD_PRELOAD='${RADIANT_TEST_PRELOAD:-}' '$radiant_binary' info '$tmp/named.bin' | grep -q 'format:      spz'"
    check "render a converted scene" status_is 0 "$radiant" render "$tmp/donut.compressed.ply" --cameras "$tmp/cams.json" --out "$tmp/conv"
    biker="$data/gaussian_splats/playcanvas/biker.spz"
    check "convert biker.spz to compressed PLY" status_is 0 "$radiant" convert "$biker" "$tmp/biker.compressed.ply"
    check "convert without OUT exits 2" status_is 2 "$radiant" convert "$donut"
    check "convert to .ksplat exits 1" status_is 1 "$radiant" convert "$donut" "$tmp/x.ksplat"
    check "convert to .ksplat says it is read only" grep -q "read only" "$tmp/stderr"
    check "failed convert writes nothing" test ! -e "$tmp/x.ksplat"
    check "compact with a dataset" status_is 0 "$radiant" compact "$tmp/sh3.ply" --out "$tmp/ranked.rcompact" --prune 0.5 \
        --dataset "$data/colmap_bartoszek_test" --downscale 16 --views 2 --finetune-steps 20 --recover-steps 10 --background white
    check "  (the recovery's steps in the report)" grep -q '"recover_steps":[[:space:]]*10' "$tmp/ranked.report.json"
    check "  (PSNR before and after in the report)" sh -c "grep -q psnr_before '$tmp/ranked.report.json' && grep -q psnr_after '$tmp/ranked.report.json'"
    check "  (and on stdout)" grep -q "test PSNR on [0-9]* views: .* dB before, .* dB after" "$tmp/stdout"
    check "bad --spz-fractional-bits exits 2" status_is 2 "$radiant" convert "$donut" "$tmp/y.spz" --spz-fractional-bits 30
else
    echo "cli: dataset checks skipped: no shared data at $data"
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
