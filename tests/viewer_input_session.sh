#!/usr/bin/env bash
# viewer_input_session.sh VIEWER DIR SCENE: run inside with_xvfb.sh by viewer_test.sh. Starts
# radiant-view on SCENE (a file, or --demo), drives it with real X input through xdotool (mouse
# drags, one of them queued while the viewer is stopped, the scroll wheel, a held key, key
# presses) and takes an F12 screenshot after each step, saved as DIR/NAME.png. Writes the
# viewer's log to DIR/viewer.log and its exit status to DIR/status; viewer_test.sh compares
# the screenshots. Exits 1 when a step cannot be done.
# VIEWER_PRELOAD is LD_PRELOAD for the viewer alone (the sanitizer build's runtime).
set -u
viewer_binary=$1 dir=$2 scene=$3
mkdir -p "$dir/work"
log=$dir/viewer.log
(cd "$dir/work" && LD_PRELOAD=${VIEWER_PRELOAD:-} exec "$viewer_binary" "$scene" --width 160 --height 90 --no-vsync) 2>"$log" &
viewer_pid=$!
stop() { kill "$viewer_pid" 2>/dev/null; wait "$viewer_pid" 2>/dev/null; exit 1; }

window=
for _ in $(seq 600); do
    kill -0 "$viewer_pid" 2>/dev/null || { echo "radiant-view exited early:"; cat "$log"; exit 1; }
    # --onlyvisible: GLFW names the window before it maps it, and an unmapped window cannot take focus
    window=$(xdotool search --onlyvisible --name '^radiant-view$' 2>/dev/null | head -1)
    [ -n "$window" ] && break
    sleep 0.1
done
[ -n "$window" ] || { echo "no radiant-view window appeared"; stop; }
focused=
for _ in $(seq 20); do
    xdotool windowfocus --sync "$window" && { focused=1; break; }
    sleep 0.2
done
[ -n "$focused" ] || { echo "cannot focus the window"; stop; }

# shot NAME: F12, then waits (up to 60 s) for the viewer to log the file written and
# moves it to DIR/NAME.png.
shots=0
shot() {
    xdotool key F12
    shots=$((shots + 1))
    for _ in $(seq 600); do
        [ "$(grep -c 'screenshot: radiant-view-' "$log")" -ge "$shots" ] && break
        sleep 0.1
    done
    local file
    file=$(ls "$dir/work"/radiant-view-*.png 2>/dev/null | head -1)
    [ -n "$file" ] || { echo "screenshot $1 was not written"; stop; }
    mv "$file" "$dir/$1.png"
}
# drag BUTTON X0 Y0 X1 Y1: press at (X0,Y0), move in four steps, release at (X1,Y1)
drag() {
    local b=$1 x0=$2 y0=$3 x1=$4 y1=$5
    xdotool mousemove --window "$window" "$x0" "$y0" mousedown "$b"
    for i in 1 2 3 4; do
        xdotool mousemove --window "$window" $((x0 + (x1 - x0) * i / 4)) $((y0 + (y1 - y0) * i / 4))
    done
    xdotool mouseup "$b"
}

shot start
drag 1 80 45 120 45 && shot orbit           # left drag: orbit
# and back while the viewer is stopped: the events wait in its queue, and the drag must
# still count from where the press happened, not from where the pointer is when it is read
kill -STOP "$viewer_pid" && drag 1 120 45 80 45 && kill -CONT "$viewer_pid" && shot orbit_back
drag 3 80 45 60 30 && shot pan              # right drag: pan
xdotool key r && shot reset
xdotool mousemove --window "$window" 80 45 click 4 click 4 && shot zoom   # scroll up: zoom in
# W held: fly forward. The shot is taken before W is let go: a viewer that lags behind its
# events then still sees W down when it gets to them, and moves by the time it lagged
xdotool key r && xdotool keydown w && sleep 0.5 && shot fly && xdotool keyup w
xdotool key r b && shot white               # keys: reset, white background
# a left drag along the window's foot, then R and B: a 4D scene's timeline scrubs (the view
# comes back, the time does not); a 3D scene's view orbits and comes back
drag 1 4 87 150 87 && xdotool key r b && shot scrubbed
xdotool key Escape
for _ in $(seq 600); do kill -0 "$viewer_pid" 2>/dev/null || break; sleep 0.1; done
wait "$viewer_pid"
echo $? >"$dir/status"
