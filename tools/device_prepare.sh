#!/usr/bin/env bash
# device_prepare.sh: builds radiant here for the GPU machine (same x86-64, no Debian
# packages there) and gathers into .device/ (ignored by git) what a run needs: the
# library, the programs and tests, the shared libraries they load, and a small data
# subset. Then one `run` call with carry [".device"] and the command
#   bash .device/device_run.sh
# builds nothing there: it runs the tests and benchmarks and prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RADIANT_DATA:-../shared/data}
export PATH=$PATH:/usr/local/cuda/bin
# without FFmpeg (RADIANT_VIDEO=OFF): its libraries are not on the GPU machine, and with their
# own dependencies they would not fit in a run's 64 MiB
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DRADIANT_CUDA=ON -DRADIANT_VIDEO=OFF >/dev/null
cmake --build build-device -j "$(nproc)" >/dev/null
rm -rf .device
mkdir -p .device/lib .device/bin .device/data
cp -a build-device/libradiant.so* .device/lib/
cp build-device/radiant .device/bin/
# a LEGO=1 pack leaves the tests out: with them it passes the 64 MiB a run may carry; TESTS="test_a
# test_b" puts those few in any pack
[ -z "${LEGO:-}" ] && for t in build-device/tests/test_* build-device/tests/stream_fixture_tool build-device/tests/feature_scene_tool; do [ -x "$t" ] && cp "$t" .device/bin/; done
for t in ${TESTS:-}; do cp "build-device/tests/$t" .device/bin/; done
# SOG (compress/sog*.c): libwebp and libzip, and what libzip loads (bzip2, zlib, and OpenSSL's
# libcrypto, 4.6 MiB, for zip encryption radiant does not use but the loader needs)
for lib in libcjson.so.1 libxxhash.so.0 libstb.so.0 libtinyexr.so.1d libOpenEXRCore-3_1.so.30 libzstd.so.1 \
           libwebp.so.7 libzip.so.4 libbz2.so.1.0 libz.so.1 libcrypto.so.3; do
    cp -L "/usr/lib/x86_64-linux-gnu/$lib" .device/lib/
done
# the Vulkan loader, and the GL dispatch libraries the NVIDIA driver's ICD
# (libGLX_nvidia.so.0) loads: the GPU machine has the driver but neither
glvnd_packages=(libvulkan1 libglvnd0 libglx0 libegl1 libopengl0 libgl1 libgles2)
mkdir -p .device-cache
for p in "${glvnd_packages[@]}"; do
    ls .device-cache/${p}_*.deb >/dev/null 2>&1 || (cd .device-cache && apt-get download "$p" >/dev/null 2>&1)
done
rm -rf .device-cache/root && for deb in .device-cache/*.deb; do dpkg -x "$deb" .device-cache/root; done
# a full LEGO=1 pack (all 100 training photos) trains on CUDA and leaves the GL libraries out (2.4
# MiB): with them it passed the 64 MiB a run carries beside the working tree (2026-12-08); the
# loader stays (the library links it). LEGO_HALF=1 packs, which bench Vulkan too, keep them.
if [ -n "${LEGO:-}" ] && [ -z "${LEGO_HALF:-}" ]; then
    cp -a .device-cache/root/usr/lib/x86_64-linux-gnu/libvulkan.so* .device/lib/
else
    cp -a .device-cache/root/usr/lib/x86_64-linux-gnu/*.so* .device/lib/
fi
# the splat scenes the GPU tests and benchmarks read (7 MiB), left out of a LEGO=1 pack, which
# would not fit in a run's 64 MiB beside them and only trains
if [ -z "${LEGO:-}" ]; then
    mkdir -p .device/data/gaussian_splats/gshairlod_donut
    cp "$data/gaussian_splats/gshairlod_donut/fused.ply" .device/data/gaussian_splats/gshairlod_donut/
    mkdir -p .device/data/gaussian_splats/playcanvas
    cp "$data/gaussian_splats/playcanvas/biker.spz" "$data/gaussian_splats/playcanvas/biker.compressed.ply" .device/data/gaussian_splats/playcanvas/
    cp -r "$data/gaussian_splats/splat_transform_fixtures" .device/data/gaussian_splats/
fi
# LEGO=1: the NeRF-synthetic lego's train views and 8 of the 20 test views' photos (r_0 to
# r_70; not their depth and normal maps), about 45 MiB of the 64 a run may carry (the
# working tree's 4 MiB count too), for training runs
if [ -n "${LEGO:-}" ]; then
    lego=.device/data/nerf_synthetic_lego
    mkdir -p $lego/train $lego/test
    cp "$data/nerf_synthetic_lego/transforms_train.json" "$data/nerf_synthetic_lego/transforms_test.json" $lego/
    cp "$data"/nerf_synthetic_lego/train/*.png $lego/train/
    # LEGO_HALF=1: the even training photos alone (the loader skips the listed ones missing),
    # room for other builds' libraries beside the pack (nerf_vk_bench.sh's VARIANTS)
    [ -n "${LEGO_HALF:-}" ] && for k in $(seq 1 2 99); do rm -f "$lego/train/r_$k.png"; done
    for k in 0 10 20 30 40 50 60 70; do cp "$data/nerf_synthetic_lego/test/r_$k.png" $lego/test/; done
fi
# COLMAP=1, FOX=1: the COLMAP set (11 MiB) and the instant-ngp fox (18 MiB), for training runs
[ -n "${COLMAP:-}" ] && cp -r "$data/colmap_bartoszek_test" .device/data/
[ -n "${FOX:-}" ] && cp -r "$data/instant_ngp_fox" .device/data/
# MUTANT=1, PANOPTIC=1: D-NeRF mutant's train and test splits (19 MiB) and the Panoptic
# basketball frames (9 MiB), for 4D training runs (MODEL=4d device_train.sh)
if [ -n "${MUTANT:-}" ]; then
    mkdir -p .device/data/dnerf_mutant
    cp -r "$data/dnerf_mutant/train" "$data/dnerf_mutant/test" "$data"/dnerf_mutant/transforms_*.json .device/data/dnerf_mutant/
fi
[ -n "${PANOPTIC:-}" ] && cp -r "$data/panoptic_basketball_subset" .device/data/
cp tools/device_run.sh tools/device_train.sh tools/device_stream.sh tools/nerf_prune_curve.sh tools/nerf_vk_bench.sh .device/
du -sh .device
