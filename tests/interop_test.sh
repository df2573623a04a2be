#!/usr/bin/env bash
# interop_test.sh RADIANT INTEROP_TOOL CACHE: radiant against PlayCanvas' splat-transform
# (pinned below, installed from npm into CACHE once, which build folders share (one install
# at a time: they may test at once); skipped, saying so, where npm is
# missing or cannot reach its registry). Both directions for every format both tools know:
# each file one tool writes, the other reads, and the two decodes of the same file must
# agree Gaussian by Gaussian (counts, SH degrees, values far inside each format's
# quantization step) and render the same (>= 60 dB from four views). Lossless formats (PLY,
# glTF) must also give back the scene they started from. What the tools do differently is
# checked as the spec states it (spec/formats.md): splat-transform decodes SPZ as stored,
# ignoring the coordinate-system record, and writes SPZ in PLY's axes without one.
# Not covered, and why: .ksplat (neither tool writes it: both read the splat-transform
# fixture instead), .glb into splat-transform (3.7.0 writes glTF but does not read it),
# .splat out of splat-transform (it does not write it).
set -u
radiant=$1 tool=$2 cache=$3
version=3.7.0
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${RADIANT_DATA:-$here/../../shared/data}/gaussian_splats/splat_transform_fixtures

command -v node >/dev/null && command -v npm >/dev/null || { echo "interop: skipped: node and npm are not installed"; exit 77; }
st=$cache/$version/node_modules/.bin/splat-transform
mkdir -p "$cache/$version"
exec 9>"$cache/install.lock"
flock 9 2>/dev/null || true # util-linux; without it, installs are not serialised
if [ ! -x "$st" ]; then
    log=$cache/npm-install.log
    if ! timeout 300 npm install --prefix "$cache/$version" --no-audit --no-fund --loglevel=error \
            "@playcanvas/splat-transform@$version" >"$log" 2>&1; then
        if grep -qiE "ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNREFUSED|ECONNRESET|network|proxy" "$log"; then
            echo "interop: skipped: npm cannot reach its registry to install @playcanvas/splat-transform@$version:"
            tail -n 3 "$log"
            exit 77
        fi
        echo "interop: npm install of @playcanvas/splat-transform@$version failed:"
        cat "$log"
        exit 1
    fi
fi
"$st" --version 2>&1 | grep -q "v$version" || { echo "interop: $st is not version $version"; exit 1; }
exec 9>&- # installed: another build's test may go on

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
check() { # check WHAT COMMAND...: runs it, counts a failure
    local what=$1
    shift
    echo "$what"
    if ! "$@"; then
        echo "FAILED: $what"
        failures=$((failures + 1))
    fi
}
# radiant's programs get the sanitizer build's preload (RADIANT_TEST_PRELOAD); node does not
to_st() { "$st" -q -w "$@" >st.log 2>&1 || { cat st.log; return 1; }; }
run_radiant() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$radiant" "$@"; }
same() { LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$tool" compare "$@"; } # A B [options]

LD_PRELOAD=${RADIANT_TEST_PRELOAD:-} "$tool" make scene.ply || exit 1

# ---- radiant writes, splat-transform reads (each decoded to PLY by splat-transform) ----
run_radiant convert scene.ply r.ply >/dev/null 2>&1 && to_st r.ply st_of_r.ply
check "PLY: radiant -> splat-transform, lossless" same scene.ply st_of_r.ply --values 1e-6 --render-db 60
run_radiant convert scene.ply r.compressed.ply >/dev/null 2>&1 && to_st r.compressed.ply st_of_rc.ply
check "compressed PLY: radiant -> splat-transform" same r.compressed.ply st_of_rc.ply --values 1e-5 --render-db 60
run_radiant convert scene.ply r_rub.spz >/dev/null 2>&1 && to_st r_rub.spz st_of_rub.ply
check "SPZ with the RUB record: splat-transform reads it as stored (radiant reading it as RDF agrees)" \
    same r_rub.spz st_of_rub.ply --frame-a RDF --values 1e-5 --render-db 60
check "SPZ with the RUB record: radiant's reading (the record's frame) differs from splat-transform's" \
    bash -c "! LD_PRELOAD='${RADIANT_TEST_PRELOAD:-}' '$tool' compare r_rub.spz st_of_rub.ply --values 1e-3 >/dev/null"
run_radiant convert scene.ply r_rdf.spz --out-spz-frame RDF >/dev/null 2>&1 && to_st r_rdf.spz st_of_rdf.ply
check "SPZ with the RDF record: both tools read the same" same r_rdf.spz st_of_rdf.ply --values 1e-5 --render-db 60
check "SPZ with the RDF record: the scene it started from, within SPZ's steps" same scene.ply r_rdf.spz --values 0.1 --render-db 30
run_radiant convert scene.ply r.splat >/dev/null 2>&1 && to_st r.splat st_of_splat.ply
check ".splat: radiant -> splat-transform" same r.splat st_of_splat.ply --values 1e-4 --render-db 60
run_radiant convert scene.ply r.sog >/dev/null 2>&1 && to_st r.sog st_of_sog.ply
check "SOG bundle: radiant -> splat-transform, the same decode" same r.sog st_of_sog.ply --values 1e-6 --render-db 60
mkdir -p r_sog && run_radiant convert scene.ply r_sog/meta.json >/dev/null 2>&1 && to_st r_sog/meta.json st_of_sog_dir.ply
check "SOG folder: radiant -> splat-transform, the same decode" same r_sog st_of_sog_dir.ply --values 1e-6 --render-db 60
to_st "$fixtures/minimal.ksplat" st_of_ksplat.ply
check ".ksplat (splat-transform's fixture): both tools read the same" same "$fixtures/minimal.ksplat" st_of_ksplat.ply --values 1e-5 --render-db 60

# ---- splat-transform writes, radiant reads ----------------------------------------------
to_st scene.ply st.ply
check "PLY: splat-transform -> radiant, lossless" same scene.ply st.ply --values 1e-6 --render-db 60
to_st scene.ply st.compressed.ply && to_st st.compressed.ply st_c.ply
check "compressed PLY: splat-transform -> radiant" same st.compressed.ply st_c.ply --values 1e-5 --render-db 60
to_st scene.ply st.spz && to_st st.spz st_spz.ply
check "SPZ without a record, written in PLY's axes: radiant reads it so with --spz-frame RDF" \
    same st.spz st_spz.ply --frame-a RDF --values 1e-5 --render-db 60
check "SPZ without a record: radiant says it assumed RUB" bash -c "LD_PRELOAD='${RADIANT_TEST_PRELOAD:-}' '$radiant' info st.spz | grep -q 'RUB'"
to_st scene.ply st.glb
check "glTF .glb: splat-transform -> radiant, lossless (glTF's axes turned back into PLY's)" \
    same scene.ply st.glb --values 1e-5 --render-db 60
run_radiant convert st.glb back.gltf >/dev/null 2>&1
check "glTF: radiant's .gltf of splat-transform's .glb, read back" same scene.ply back.gltf --values 1e-5 --render-db 60
# SOG: splat-transform's k-means on the CPU (-g cpu: no GPU is assumed), bundled and not
to_st -g cpu scene.ply st.sog && to_st st.sog st_sog.ply
check "SOG bundle: splat-transform -> radiant, the same decode" same st.sog st_sog.ply --values 1e-6 --render-db 60
mkdir -p st_sog && to_st -g cpu scene.ply st_sog/meta.json && to_st st_sog/meta.json st_sog_dir.ply
check "SOG folder: splat-transform -> radiant, the same decode" same st_sog/meta.json st_sog_dir.ply --values 1e-6 --render-db 60

echo "interop: $failures failed (splat-transform $version)"
[ "$failures" -eq 0 ]
