# script_checks.sh: sourced by the shell tests. Makes $tmp (removed on exit) and the
# counters, and defines:
#   check DESCRIPTION COMMAND...   counts COMMAND's success, prints FAILED: otherwise
#   status_is CODE COMMAND...      COMMAND exits with CODE; its output lands in
#                                  $tmp/stdout and $tmp/stderr, its stderr also in $tmp/log
tmp=$(mktemp -d /tmp/radiant-test.XXXXXX) # no "-" before the random part: tests grep output for "-0"
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# The built-in demo scene at 30,000 Gaussians, not 300,000 (radiant and radiant-view read
# RADIANT_DEMO_COUNT): the same look in a tenth of the time, which the sanitizer build's
# dozens of demo renders need
export RADIANT_DEMO_COUNT=${RADIANT_DEMO_COUNT:-30000}
# RADIANT_TEST_TIMES=1: each check's seconds, to find the slow ones
check() {
    local what=$1 start=$SECONDS; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $what"; fi
    [ -n "${RADIANT_TEST_TIMES:-}" ] && echo "$((SECONDS - start)) s: $what"
    return 0
}
status_is() {
    local want=$1 got; shift
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    got=$?
    cat "$tmp/stderr" >>"$tmp/log"
    [ "$got" -eq "$want" ]
}
