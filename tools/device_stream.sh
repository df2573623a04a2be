#!/usr/bin/env bash
# device_stream.sh: issue 32's protocol on the GPU machine, from a PANOPTIC=1 pack
# (tools/device_prepare.sh): basketball encoded as a stream on CUDA (frame 0 whole, frames
# 1-9, the spec's 2-10, residuals) with each frame's test PSNR (cameras 0, 10, 15, 30), size
# and encode time (its parts from report.json), decode + render times on CUDA and Vulkan
# at 1352x1014; then frames BASE_FRAMES each trained whole with frame 0's budget, and the
# summary the protocol asks: mean PSNR of the residual frames against the whole ones, mean
# residual frame size, mean and worst encode time. FIRST and ITER set the iterations;
# ENCODE_ARGS adds options; BASE_FRAMES="" skips the whole frames (about 13 s each on an H100);
# DET=1 trains everything with --deterministic (runs with other options share frame 0);
# NO_BENCH=1 skips the decode + render benchmarks.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib RADIANT_DATA=$PWD/.device/data
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f $nvidia_icd ] && export VK_DRIVER_FILES=$nvidia_icd
bin=.device/bin P=$RADIANT_DATA/panoptic_basketball_subset out=${OUT:-/tmp}
FIRST=${FIRST:-7000} ITER=${ITER:-} # ITER empty: the encoder's default (ten passes over the views)
det=${DET:+--deterministic}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
start=$(date +%s)
$bin/radiant stream encode $P --out $out/p.rstream --backend cuda --first-iterations $FIRST ${ITER:+--iterations $ITER} --sh-degree 2 \
    $det ${ENCODE_ARGS:-} 2>&1 | grep --line-buffered -v "^\s*iteration"
echo "encode: $(( $(date +%s) - start )) s"
$bin/radiant info $out/p.rstream | tail -3
[ -n "${NO_BENCH:-}" ] || for b in cuda vulkan; do $bin/radiant bench $out/p.rstream --backend $b --width 1352 --height 1014 2>&1 | tail -6; done
for k in ${BASE_FRAMES-1 2 3 4 5 6 7 8 9}; do
    $bin/radiant stream encode $P --frames $k:$k --out $out/b$k.rstream --backend cuda --first-iterations $FIRST --sh-degree 2 $det \
        > /dev/null 2>&1 || echo "frame $k whole: failed"
done
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
frames = json.load(open(f"{out}/p.report.json"))["frames"]
res = [f for f in frames if f["kind"] == "residual"]
first = frames[0]["test_psnr"]
print("test PSNR by frame: " + ", ".join(f"{f['frame']} {f['test_psnr']:.2f}" for f in frames))
if res:
    psnr = [f["test_psnr"] for f in res]
    enc = [f["encode_seconds"] for f in res]
    print(f"residual frames {res[0]['frame']}-{res[-1]['frame']}: mean test PSNR {sum(psnr)/len(psnr):.3f} dB "
          f"({sum(psnr)/len(psnr) - first:+.3f} against frame 0's {first:.3f}), mean {sum(f['bytes'] for f in res)/len(res)/1e6:.4f} MB, "
          f"encode mean {sum(e['total'] for e in enc)/len(enc):.3f} s, worst {max(e['total'] for e in enc):.3f} s")
    for part in ("split", "train", "densify", "write"):
        print(f"  encode part {part}: mean {sum(e[part] for e in enc)/len(enc):.3f} s")
whole = {}
for f in res:
    path = f"{out}/b{f['frame']}.report.json"
    if os.path.exists(path): whole[f["frame"]] = json.load(open(path))["frames"][0]["test_psnr"]
if whole:
    same = [f["test_psnr"] for f in res if f["frame"] in whole]
    print(f"the same frames trained whole: mean {sum(whole.values())/len(whole):.3f} dB ({len(whole)} frames); "
          f"residual - whole {sum(same)/len(same) - sum(whole.values())/len(whole):+.3f} dB")
    print("  whole: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(whole.items())))
PY
