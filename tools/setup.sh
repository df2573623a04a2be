#!/usr/bin/env bash
# setup.sh: the README's first command. On a fresh Debian 12 machine (as root): installs
# the Debian packages radiant needs (make included), builds, and renders the built-in
# scene into out/demo/, printing where the images went and how long a frame took.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
make demo
