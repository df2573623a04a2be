#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages radiant builds and tests with, if any is
# missing. Needs root (or sudo) only when something is missing.
set -euo pipefail
# Vulkan: the loader and headers, glslc for the shaders, lavapipe (mesa-vulkan-drivers) to
# run them without a GPU, and the validation layers the Vulkan tests run under; GLFW for
# radiant-view, and Xvfb to test it without a display (tests/with_xvfb.sh), with
# xdotool to drive its mouse and keys there; clang and its runtime libraries (libFuzzer,
# the sanitizers) for the fuzz harnesses; FFmpeg's libraries for video (render --video);
# libwebp and libzip for PlayCanvas SOG (lossless WebP images in a zip).
packages=(build-essential make cmake pkg-config libstb-dev libtinyexr-dev libopenexr-dev libcjson-dev libzstd-dev libxxhash-dev
          libwebp-dev libzip-dev
          libavcodec-dev libavformat-dev libswscale-dev
          libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers libglfw3-dev xvfb xdotool
          clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "radiant: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
