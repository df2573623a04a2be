#!/usr/bin/env bash
# viewer_test.sh VIEWER RADIANT IMAGE_DIFF NERF_FILE [FEATURE_SCENE_TOOL]: radiant-view end to end under Xvfb on the
# Vulkan driver present (lavapipe in CI): its screenshot equals `radiant render --backend
# vulkan` of the same camera up to 8-bit rounding (`--float` there: the viewer keeps single
# precision unless --packed, where render packs by default on GPUs), a file that fails to load keeps it
# running with the error logged, and no display gives one clear message and exit code 1.
# The CPU backend's frames go through the host as CUDA's do; real mouse and key input comes
# through xdotool (viewer_input_session.sh).
# Prints "N passed, M failed"; exits 77 (skipped) only where Xvfb is missing.
set -u
viewer_binary=$1 radiant_binary=$2 image_diff=$3 nerf_file=$4 feature_tool=${5:-} stream_tool=${6:-}
run_viewer() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$viewer_binary" "$@"; }
run_radiant() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$radiant_binary" "$@"; }
data=${RADIANT_DATA:-$(dirname "$0")/../../shared/data}
source "$(dirname "$0")/script_checks.sh"
# same_image DESCRIPTION A B: equal up to one 8-bit step (the storage image's rounding)
same_image() {
    local d
    d=$("$image_diff" "$2" "$3" 2>&1)
    echo "  $1: largest difference $d/255"
    check "$1" test "$d" -le 1 2>/dev/null
}
# the swapchain and present code run under the validation layers too (they log errors)
export RADIANT_VK_VALIDATION=1
# in_xvfb COMMAND...: a fresh virtual display for the command (with_xvfb.sh)
with_xvfb=$(dirname "$0")/with_xvfb.sh
in_xvfb() { "$with_xvfb" env LD_PRELOAD="${RADIANT_TEST_PRELOAD:-}" "$@"; }

check "--help exits 0" status_is 0 run_viewer --help
check "unknown option exits 2" status_is 2 run_viewer --bogus
check "--screenshot without --frames exits 2" status_is 2 run_viewer --demo --screenshot "$tmp/x.png"
check "--split without --dataset exits 2" status_is 2 run_viewer --demo --split all
check "--split bogus exits 2" status_is 2 run_viewer --demo --dataset "$tmp" --split bogus
check "--frames 0 exits 2" status_is 2 run_viewer --demo --frames 0
check "no display exits 1" status_is 1 env -u DISPLAY -u WAYLAND_DISPLAY LD_PRELOAD="${RADIANT_TEST_PRELOAD:-}" \
    "$viewer_binary" --demo --frames 1
check "no display says so once" grep -q "cannot open a display" "$tmp/stderr"

if ! command -v Xvfb >/dev/null; then
    echo "Xvfb not found: the windowed tests are skipped (install xvfb)"
    echo "viewer: $passed passed, $failed failed (windowed tests skipped)"
    [ "$failed" -eq 0 ] && exit 77 || exit 1
fi

# the demo scene at its first orbit view
check "demo: 3 frames and a screenshot" status_is 0 in_xvfb "$viewer_binary" --demo --frames 3 --width 320 --height 180 \
    --screenshot "$tmp/demo.png"
grep "frames at" "$tmp/stderr"
check "demo: the viewer reports its frame and present times" grep -q "present [0-9.]* ms" "$tmp/stderr"
check "demo: radiant render of the same view" status_is 0 run_radiant render --views 1 --demo --backend vulkan --float --width 320 --height 180 \
    --out "$tmp/demo_render"
same_image "demo: screenshot equals radiant render" "$tmp/demo.png" "$tmp/demo_render/0000.png"
# --packed: the inference layout (half SH, rotations, scales and opacities), as radiant render's
check "demo: no inference layout unless asked for" status_is 0 in_xvfb "$viewer_binary" --demo --frames 1 --width 64 --height 36
check "demo: says nothing of half precision" test -z "$(grep "half precision" "$tmp/stderr")"
check "demo --packed: a screenshot" status_is 0 in_xvfb "$viewer_binary" --demo --packed --frames 2 --width 320 --height 180 \
    --screenshot "$tmp/demo_packed.png"
check "demo --packed: the scene kept packed, said once" grep -q "demo: the inference layout, SH, rotations, scales and opacities in half precision" "$tmp/stderr"
check "demo --packed: radiant render of the same view" status_is 0 run_radiant render --views 1 --demo --packed --backend vulkan \
    --width 320 --height 180 --out "$tmp/demo_packed_render"
same_image "demo --packed: screenshot equals radiant render --packed" "$tmp/demo_packed.png" "$tmp/demo_packed_render/0000.png"
check "demo: a screenshot with the overlay" status_is 0 in_xvfb "$viewer_binary" --demo --frames 2 --width 320 --height 180 \
    --screenshot-overlay --screenshot "$tmp/overlay.png"
overlay_diff=$("$image_diff" "$tmp/overlay.png" "$tmp/demo.png" 2>&1)
check "demo: the overlay's text is drawn" test "$overlay_diff" -ge 100 2>/dev/null

# a feature field's modes: M past alpha shows the PCA colouring, then a query's relevancy
if [ -n "$feature_tool" ]; then
    check "features: a small field" sh -c "'$feature_tool' '$tmp/feat' && LD_PRELOAD='${RADIANT_TEST_PRELOAD:-}' '$radiant_binary' train \
        '$tmp/feat' --model features --scene '$tmp/feat/scene.ply' --out '$tmp/feat/scene.rfeat' --iterations 20 --codebook-size 40 >/dev/null"
    for mode in rgb:0 features:3 relevancy:4; do
        name=${mode%%:*} presses=$(printf 'M%.0s' $(seq 1 "${mode##*:}"))
        check "features: the $name mode" status_is 0 in_xvfb "$viewer_binary" "$tmp/feat/scene.ply" --dataset "$tmp/feat" \
            --embeddings "$tmp/feat/queries.npy" --frames 1 --width 96 --height 72 ${presses:+--press $presses} --screenshot "$tmp/feat_$name.png"
    done
    feature_diff=$("$image_diff" "$tmp/feat_features.png" "$tmp/feat_rgb.png" 2>&1)
    relevancy_diff=$("$image_diff" "$tmp/feat_relevancy.png" "$tmp/feat_features.png" 2>&1)
    check "features: the PCA colouring is not the render" test "$feature_diff" -ge 30 2>/dev/null
    check "features: the relevancy is neither" test "$relevancy_diff" -ge 30 2>/dev/null
    check "features: a scene without a field says so" status_is 0 in_xvfb "$viewer_binary" --demo --frames 1 --width 64 --height 48 --press MMM
    check "  (in the log)" grep -q "no feature field" "$tmp/stderr"
fi

# a NeRF: on lavapipe (a CPU Vulkan device) the viewer renders it on CUDA or the CPU, faster
# there, and copies the frames through the host; the screenshot equals radiant render's on the CPU
check "nerf: a small snapshot" status_is 0 "$nerf_file" "$tmp/small.rnerf"
check "nerf: 2 frames and a screenshot" status_is 0 in_xvfb "$viewer_binary" "$tmp/small.rnerf" --frames 2 --width 80 --height 45 \
    --screenshot "$tmp/nerf.png"
check "nerf: the viewer says who renders it" grep -q "a NeRF on a CPU Vulkan device: .* renders it" "$tmp/stderr"
check "nerf: radiant render of the same view" status_is 0 run_radiant render --views 1 "$tmp/small.rnerf" --backend cpu --width 80 --height 45 \
    --out "$tmp/nerf_render"
same_image "nerf: screenshot equals radiant render" "$tmp/nerf.png" "$tmp/nerf_render/0000.png"
# --backend vulkan: Vulkan renders the NeRF into the device memory it presents from
check "nerf on vulkan: 1 frame and a screenshot" status_is 0 in_xvfb "$viewer_binary" "$tmp/small.rnerf" --backend vulkan --frames 1 \
    --width 80 --height 45 --screenshot "$tmp/nerf_vk.png"
check "nerf on vulkan: no host copy" test "$(grep -c "renders it faster" "$tmp/stderr")" -eq 0
check "nerf on vulkan: radiant render of the same view" status_is 0 run_radiant render --views 1 "$tmp/small.rnerf" --backend vulkan \
    --width 80 --height 45 --out "$tmp/nerf_vk_render"
same_image "nerf on vulkan: screenshot equals radiant render" "$tmp/nerf_vk.png" "$tmp/nerf_vk_render/0000.png"

# a 4D scene: at --time, paused, as radiant render draws it then; the timeline's keys move it
check "4d: a small 4D scene" status_is 0 run_radiant synth 2000 --time-extent 2 --out "$tmp/moving.ply"
check "4d: a frame at time 1.2" status_is 0 in_xvfb "$viewer_binary" "$tmp/moving.ply" --time 1.2 --frames 1 --width 80 --height 45 \
    --screenshot "$tmp/moving.png"
check "4d: the viewer says the time" grep -q "time 1.200 of .* paused" "$tmp/stderr"
check "4d: radiant render --time 1.2" status_is 0 run_radiant render --views 1 "$tmp/moving.ply" --backend vulkan --time 1.2 --width 80 \
    --height 45 --out "$tmp/moving_render"
same_image "4d: screenshot equals radiant render" "$tmp/moving.png" "$tmp/moving_render/0000.png"
check "4d: two steps on with . ." status_is 0 in_xvfb "$viewer_binary" "$tmp/moving.ply" --time 1.2 --press ".." --frames 1 \
    --width 80 --height 45 --screenshot "$tmp/moving_later.png"
check "4d: the time moved two hundredths of the range" grep -q "time 1.240 of" "$tmp/stderr"
check "4d: the later frame differs" test "$("$image_diff" "$tmp/moving.png" "$tmp/moving_later.png" 2>&1)" -ge 10

# a residual stream on the same timeline: --time picks the frame (30 a second), space plays
if [ -n "$stream_tool" ]; then
    check "stream: a small stream" status_is 0 "$stream_tool" "$tmp/v.rstream" 12 400 1 4 3
    check "stream: the frame at time 0.2" status_is 0 in_xvfb "$viewer_binary" "$tmp/v.rstream" --time 0.2 --frames 1 --width 80 \
        --height 45 --screenshot "$tmp/stream6.png"
    check "stream: the viewer says frame 6, a residual, and the bitrate" grep -q "stream frame 6 of 12 (residual, .* Mbit/s" "$tmp/stderr"
    check "stream: the frame at time 0" status_is 0 in_xvfb "$viewer_binary" "$tmp/v.rstream" --time 0 --frames 1 --width 80 \
        --height 45 --screenshot "$tmp/stream0.png"
    check "stream: frame 0 is the intra frame" grep -q "stream frame 0 of 12 (intra" "$tmp/stderr"
    check "stream: the frames differ" test "$("$image_diff" "$tmp/stream0.png" "$tmp/stream6.png" 2>&1)" -ge 10
    check "stream: space plays it" status_is 0 in_xvfb "$viewer_binary" "$tmp/v.rstream" --press " " --frames 20 --width 80 --height 45
    check "stream: playing" grep -q "playing" "$tmp/stderr"
fi

# settings by key: white background, SH degree 0 (as radiant render's options); depth, alpha
check "keys: B 0 (white, SH 0)" status_is 0 in_xvfb "$viewer_binary" --demo --frames 2 --width 320 --height 180 --press B0 \
    --screenshot "$tmp/white_sh0.png"
check "keys: radiant render --background white --sh-degree 0" status_is 0 run_radiant render --views 1 --demo --backend vulkan --float \
    --width 320 --height 180 --background white --sh-degree 0 --out "$tmp/white_sh0_render"
same_image "keys: B 0 screenshot equals radiant render" "$tmp/white_sh0.png" "$tmp/white_sh0_render/0000.png"
for mode in M MM; do
    check "keys: $mode (depth, alpha)" status_is 0 in_xvfb "$viewer_binary" --demo --frames 2 --width 320 --height 180 \
        --press $mode --screenshot "$tmp/mode_$mode.png"
    mode_diff=$("$image_diff" "$tmp/mode_$mode.png" "$tmp/demo.png" 2>&1)
    check "keys: $mode shows something other than RGB" test "$mode_diff" -ge 50 2>/dev/null
done

# a camera list: the first camera, at its own size
cat >"$tmp/cams.json" <<'JSON'
{"cameras": [
 {"width": 96, "height": 64, "fx": 80, "fy": 80, "cx": 45, "cy": 33,
  "w2c": [[0, 1, 0, 0], [0.45, 0, -0.89, 1.5], [-0.89, 0, -0.45, 6.0], [0, 0, 0, 1]]}]}
JSON
check "cameras: screenshot" status_is 0 in_xvfb "$viewer_binary" --demo --cameras "$tmp/cams.json" --frames 2 \
    --width 96 --height 64 --screenshot "$tmp/cams.png"
check "cameras: radiant render" status_is 0 run_radiant render --demo --backend vulkan --float --cameras "$tmp/cams.json" \
    --out "$tmp/cams_render"
same_image "cameras: screenshot equals radiant render" "$tmp/cams.png" "$tmp/cams_render/0000.png"

# --up: the orbit views about another axis, the same as radiant render's
check "--up w exits 2" status_is 2 run_viewer --demo --up w
check "up: a screenshot of the demo orbited about -y" status_is 0 in_xvfb "$viewer_binary" --demo --up -y --frames 2 \
    --width 320 --height 180 --screenshot "$tmp/up.png"
check "up: radiant render --up -y" status_is 0 run_radiant render --views 1 --demo --backend vulkan --float --up -y --width 320 --height 180 \
    --out "$tmp/up_render"
same_image "up: screenshot equals radiant render" "$tmp/up.png" "$tmp/up_render/0000.png"
check "up: another view than the default's" test "$("$image_diff" "$tmp/up.png" "$tmp/demo.png" 2>&1)" -ge 20

# a file that fails to load: an interactive session shows the error in the overlay and goes
# on; a run of --frames N, a script's, fails with 1
printf 'ply\nformat binary_little_endian 1.0\nelement vertex 5\nend_header\n' >"$tmp/broken.ply"
check "broken scene with --frames: exits 1" status_is 1 in_xvfb "$viewer_binary" "$tmp/broken.ply" --frames 2 --width 64 \
    --height 48 --screenshot "$tmp/broken.png"
check "broken scene: the error names the file" grep -q "error: .*broken.ply: " "$tmp/stderr"
check "broken scene: no screenshot written" test ! -e "$tmp/broken.png"
check "missing dataset with --frames: exits 1" status_is 1 in_xvfb "$viewer_binary" --demo --dataset "$tmp/nowhere" --frames 1 \
    --width 64 --height 48
check "missing dataset: the error names it" grep -q "error: .*nowhere" "$tmp/stderr"

# CUDA renders and the frames go through the host; without a CUDA device: one clear error
if status_is 0 in_xvfb "$viewer_binary" --demo --backend cuda --frames 2 --width 320 --height 180 --screenshot "$tmp/cuda.png"; then
    same_image "cuda: screenshot equals radiant render" "$tmp/cuda.png" "$tmp/demo_render/0000.png"
else
    check "cuda: without a device it exits 1 naming the backend" grep -q "backend cuda" "$tmp/stderr"
fi

# the CPU backend through the host: the same copy path as CUDA's, testable everywhere
check "cpu: screenshot" status_is 0 in_xvfb "$viewer_binary" --demo --backend cpu --frames 2 --width 320 --height 180 \
    --screenshot "$tmp/cpu.png"
check "cpu: the log says the frames go through the host" grep -q "cpu renders; frames copied through the host" "$tmp/stderr"
check "cpu: its times are the CPU's, not a GPU's" grep -q "(CPU timers" "$tmp/stderr"
check "cpu: radiant render --backend cpu" status_is 0 run_radiant render --views 1 --demo --backend cpu --width 320 --height 180 \
    --out "$tmp/cpu_render"
same_image "cpu: screenshot equals radiant render" "$tmp/cpu.png" "$tmp/cpu_render/0000.png"

# real input through X (xdotool): drags, the scroll wheel, a held key, F12, Esc
if command -v xdotool >/dev/null; then
    check "input: a small scene" status_is 0 run_radiant synth 20000 --out "$tmp/synth.ply"
    mkdir -p "$tmp/input"
    check "input: the session ran" sh -c '"$1" env VIEWER_PRELOAD="$2" bash "$3" "$4" "$5" "$6" >"$5/session.out" 2>&1' \
        session "$with_xvfb" "${RADIANT_TEST_PRELOAD:-}" "$(dirname "$0")/viewer_input_session.sh" "$viewer_binary" \
        "$tmp/input" "$tmp/synth.ply"
    sed 's/^/  input session: /' "$tmp/input/session.out"
    cat "$tmp/input/viewer.log" >>"$tmp/log" 2>/dev/null
    check "input: Esc quits with 0" grep -qx 0 "$tmp/input/status"
    # differs NAME A B: the screenshots differ by more than rounding
    differs() {
        local d
        d=$("$image_diff" "$tmp/input/$2.png" "$tmp/input/$3.png" 2>&1)
        echo "  input: $1: $2 against $3 largest difference $d/255"
        check "input: $1" test "$d" -ge 20 2>/dev/null
    }
    differs "left drag orbits" orbit start
    same_image "input: dragging back returns" "$tmp/input/orbit_back.png" "$tmp/input/start.png"
    differs "right drag pans" pan orbit_back
    check "input: R resets exactly" test "$("$image_diff" "$tmp/input/reset.png" "$tmp/input/start.png" 2>&1)" = 0
    differs "the scroll wheel zooms" zoom start
    differs "holding W flies" fly start
    differs "B after R: white background" white start
    check "input: F12 screenshots at the window's size" grep -q "screenshot: .*(160x90)" "$tmp/input/viewer.log"
    same_image "input: a drag along the foot of a 3D scene orbits, and R returns" "$tmp/input/scrubbed.png" "$tmp/input/start.png"
    # a 4D scene: the same drag along the foot scrubs its time, which R leaves
    check "input: a small 4D scene" status_is 0 run_radiant synth 3000 --time-extent 2 --out "$tmp/moving_input.ply"
    mkdir -p "$tmp/input4d"
    check "input: the 4D session ran" sh -c '"$1" env VIEWER_PRELOAD="$2" bash "$3" "$4" "$5" "$6" >"$5/session.out" 2>&1' \
        session "$with_xvfb" "${RADIANT_TEST_PRELOAD:-}" "$(dirname "$0")/viewer_input_session.sh" "$viewer_binary" \
        "$tmp/input4d" "$tmp/moving_input.ply"
    sed 's/^/  input 4D session: /' "$tmp/input4d/session.out"
    d4=$("$image_diff" "$tmp/input4d/scrubbed.png" "$tmp/input4d/start.png" 2>&1)
    echo "  input: 4D scrubbed against start largest difference $d4/255"
    check "input: a drag along the foot scrubs a 4D scene's time" test "$d4" -ge 20 2>/dev/null
else
    echo "xdotool not found: the input checks are skipped (install xdotool)"
fi

# the donut PLY, as radiant render sees it
donut=$data/gaussian_splats/gshairlod_donut/fused.ply
if [ -f "$donut" ]; then
    check "donut: screenshot" status_is 0 in_xvfb "$viewer_binary" "$donut" --frames 2 --width 240 --height 135 \
        --screenshot "$tmp/donut.png"
    check "donut: radiant render" status_is 0 run_radiant render --views 1 "$donut" --backend vulkan --float --width 240 --height 135 \
        --out "$tmp/donut_render"
    same_image "donut: screenshot equals radiant render" "$tmp/donut.png" "$tmp/donut_render/0000.png"
else
    echo "donut PLY not found under $data: its checks are skipped"
fi

# the lego dataset's cameras and, with no scene, its own images
lego=$data/nerf_synthetic_lego
if [ -f "$lego/transforms_test.json" ]; then
    check "lego: dataset images shown" status_is 0 in_xvfb "$viewer_binary" --dataset "$lego" --frames 2 --width 400 \
        --height 400 --screenshot "$tmp/lego.png"
    mean=$("$image_diff" --mean "$tmp/lego.png" 2>/dev/null || echo 0)
    echo "  lego: mean value of the shown image $mean/255"
    check "lego: the shown image is not empty" awk -v m="$mean" 'BEGIN { exit !(m > 5) }'
    check "lego: demo scene from the dataset's first camera" status_is 0 in_xvfb "$viewer_binary" --demo --dataset "$lego" \
        --frames 2 --width 200 --height 200 --screenshot "$tmp/lego_demo.png"
    # training in the background: a scripted run ends on a snapshot of it
    check "lego: --train shows the scene it fits" status_is 0 in_xvfb "$viewer_binary" --train "$lego" --downscale 16 \
        --iterations 40 --frames 2 --width 200 --height 200 --screenshot "$tmp/lego_train.png"
    check "lego: --train reports its iteration and count" grep -Eq "training \((cpu|cuda)\): iteration [1-9][0-9]* of 40, .* [1-9][0-9]* Gaussians shown" "$tmp/stderr"
    mean=$("$image_diff" --mean "$tmp/lego_train.png" 2>/dev/null || echo 0)
    echo "  lego: --train: $(grep -o "training (.*shown" "$tmp/stderr"); screenshot mean $mean/255"
    check "lego: the training scene is drawn" awk -v m="$mean" 'BEGIN { exit !(m > 5) }'
    check "--train of a missing dataset exits 1" status_is 1 in_xvfb "$viewer_binary" --train "$tmp/no_such_dataset" --frames 2 \
        --width 64 --height 64
    check "--train says which dataset failed" grep -q "no_such_dataset" "$tmp/stderr"
    check "--train with a scene exits 2" status_is 2 run_viewer --demo --train "$lego"
else
    echo "lego dataset not found under $data: its checks are skipped"
fi

check "the validation layers were on" grep -q "validation layers on" "$tmp/log"
check "the validation layers reported no errors" sh -c "! grep -q 'vulkan validation' '$tmp/log'"
grep "vulkan validation" "$tmp/log" | head -5
echo "viewer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
