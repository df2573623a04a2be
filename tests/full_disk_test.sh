#!/usr/bin/env bash
# full_disk_test.sh RADIANT FAIL_WRITES: every kind of file radiant writes (PNG, EXR,
# report.json, PLY, SPZ, .splat, compressed PLY, camera lists), written onto a disk that
# fills up: the command fails with the path and the system's reason, and leaves no partial
# file: no temporaries, and every file it left is byte for byte the one a run with room
# writes. An older file of the same name stays as it was. The disk is FAIL_WRITES (an
# LD_PRELOAD layer that runs out after N bytes, everywhere) and, where the test may mount
# one (root), a small tmpfs. Prints "N passed, M failed".
set -u
radiant_binary=$1 shim=$2
source "$(dirname "$0")/script_checks.sh"
run_radiant() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$radiant_binary" "$@"; }

cp "$(dirname "$0")/two_cameras.json" "$tmp/cams.json" # two cameras of the demo scene, rotations rounded by hand
check "a small scene to convert" status_is 0 run_radiant synth 3000 --out "$tmp/scene.ply"

# case NAME: the command for output folder $1 (its outputs all go under it)
command_for() {
    case $1 in
        render) echo render --demo --cameras "$tmp/cams.json" --exr --out "$2/r" ;;
        synth) echo synth 2000 --out "$2/s.ply" --cameras "$2/s.json" ;;
        ply | spz | splat | compressed.ply | glb | gltf) echo convert "$tmp/scene.ply" "$2/x.$1" ;;
    esac
}
cases="render synth ply spz splat compressed.ply glb gltf"

# The outputs with room: the reference each left file must equal, and their total size.
for c in $cases; do
    mkdir -p "$tmp/room/$c"
    check "$c: writes with room" status_is 0 run_radiant $(command_for "$c" "$tmp/room/$c")
done

# left_whole CASE DIR: no temporaries, every file equal to the run with room
left_whole() {
    local f bad=0
    [ -z "$(find "$2" -name '*.tmp*')" ] || { echo "  $1: temporaries left: $(find "$2" -name '*.tmp*')"; bad=1; }
    while IFS= read -r f; do
        [ -z "$f" ] && continue
        cmp -s "$f" "$tmp/room/$1/${f#"$2"/}" || { echo "  $1: partial file left: ${f#"$2"/}"; bad=1; }
    done <<<"$(find "$2" -type f)"
    return $bad
}

# The layer: the disk fills after nothing, a few bytes, half, and all but the last few.
for c in $cases; do
    total=$(find "$tmp/room/$c" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
    for limit in 0 100 $((total / 2)) $((total - 10)); do
        dir=$tmp/full/$c.$limit
        mkdir -p "$dir"
        check "$c, disk full after $limit of $total bytes: fails" status_is 1 env \
            "LD_PRELOAD=${RADIANT_TEST_PRELOAD:+$RADIANT_TEST_PRELOAD }$shim" FAIL_WRITES_DIR="$dir" \
            FAIL_WRITES_AFTER="$limit" "$radiant_binary" $(command_for "$c" "$dir")
        check "$c, disk full after $limit bytes: says where and why" grep -q "$dir.*No space left on device" "$tmp/stderr"
        check "$c, disk full after $limit bytes: nothing partial left" left_whole "$c" "$dir"
    done
done

# an older file of the same name is kept as it was
mkdir -p "$tmp/old"
echo "an older scene" >"$tmp/old/x.ply"
check "convert onto a full disk: fails" status_is 1 env "LD_PRELOAD=${RADIANT_TEST_PRELOAD:+$RADIANT_TEST_PRELOAD }$shim" \
    FAIL_WRITES_DIR="$tmp/old" FAIL_WRITES_AFTER=1000 "$radiant_binary" convert "$tmp/scene.ply" "$tmp/old/x.ply"
check "convert onto a full disk: the older file is kept" grep -qx "an older scene" "$tmp/old/x.ply"

# A real small filesystem, where this test may mount one.
mnt=$tmp/tmpfs
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=12k tmpfs "$mnt" 2>/dev/null; then
    for c in $cases; do
        mkdir -p "$mnt/$c"
        run_radiant $(command_for "$c" "$mnt/$c") >"$tmp/stdout" 2>"$tmp/stderr"
        status=$?
        if [ "$status" = 0 ]; then
            check "tmpfs of 12 KiB, $c: fits, and is whole" left_whole "$c" "$mnt/$c"
        else
            check "tmpfs of 12 KiB, $c: fails with 1" test "$status" = 1
            check "tmpfs of 12 KiB, $c: says where and why" grep -q "$mnt.*No space left on device" "$tmp/stderr"
            check "tmpfs of 12 KiB, $c: nothing partial left" left_whole "$c" "$mnt/$c"
        fi
        rm -rf "${mnt:?}/$c"
    done
    umount "$mnt"
    echo "tmpfs of 12 KiB: every case written onto it"
else
    echo "tmpfs: not mounted (needs root); the LD_PRELOAD layer above ran every case"
fi
echo "full_disk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
