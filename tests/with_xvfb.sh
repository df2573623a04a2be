#!/usr/bin/env bash
# with_xvfb.sh COMMAND...: runs COMMAND with DISPLAY set to a fresh Xvfb (screen
# $XVFB_SCREEN, default 1600x1200x24) that chose its own free display number (-displayfd) and said so once it accepts
# connections; stops the server afterwards and exits with COMMAND's status. xvfb-run -a
# guesses a number from the lock files and can hand out one whose server is not there
# (seen once in ctest: "Failed to open display :100").
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/fd"
Xvfb -displayfd 3 -screen 0 "${XVFB_SCREEN:-1600x1200x24}" -nolisten tcp 3>"$dir/fd" 2>"$dir/log" &
server=$!
display=
read -r -t 60 display <"$dir/fd" || true
if [ -z "$display" ]; then
    echo "with_xvfb: Xvfb did not start:" >&2
    cat "$dir/log" >&2
    kill "$server" 2>/dev/null
    exit 1
fi
DISPLAY=:$display "$@"
status=$?
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit $status
