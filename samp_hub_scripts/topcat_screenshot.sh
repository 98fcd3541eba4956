#!/usr/bin/env bash
# Reproduce docs/samp_topcat.png headless: a private hub, Xvfb, vo-ocml listen and TOPCAT;
# TOPCAT broadcasts TABLE, loads the annotated table, which is shown sorted by ocml_prob.
#   samp_hub_scripts/topcat_screenshot.sh tests/data/samp/m67_dr3_pmbox.csv docs/samp_topcat.png
# (TABLE: VOTable, FITS or .csv; click positions assume TOPCAT 4.8 on a bare 1280x1024 screen.)
# Needs: apt install topcat xvfb xdotool; Python with Pillow.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -eq 2 ] || { echo "usage: $0 TABLE OUT.png" >&2; exit 2; }
table=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
format=()
case "$table" in *.csv) format=(-f csv) ;; esac
work=$(mktemp -d -t samp-shot.XXXXXX)
export SAMP_HUB="std-lockurl:file://$work/samp.lock"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; }
trap cleanup EXIT
setsid "${VO_OCML[@]}" hub -q >"$work/hub.log" 2>&1 & pids+=($!)
wait_for 60 test -s "$work/samp.lock"
setsid "${VO_OCML[@]}" listen -v >"$work/listen.log" 2>&1 & pids+=($!)
start_xvfb
wait_for 60 grep -q "registered as" "$work/listen.log"
setsid java "${JAVA_NO_NET[@]}" -classpath "$JARS/starlink-topcat.jar" \
     uk.ac.starlink.topcat.Driver -samp -nohub "${format[@]}" "$table" >"$work/topcat.log" 2>&1 & pids+=($!)
wait_for 120 sh -c "xdotool search --name '^TOPCAT\$'"
sleep 3
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-0.8}"; }
click 115 40                     # toolbar: Broadcast table
wait_for 300 grep -q "received response to table.load.votable.*samp.ok" "$work/listen.log"
sleep 1
click 50 114                     # Table List: 2: <name> - members
click 160 40 3                   # toolbar: Table Browser
browser=$(xdotool search --name "Table Browser" | head -1)
xdotool windowmove "$browser" 0 330 windowsize "$browser" 1275 640; sleep 1.5
click 1100 924 0.5; click 1100 924 0.5   # scroll right to the ocml_ columns
click 540 191; xdotool key o Return; sleep 1   # Sort Order: ocml_prob
click 367 191 1.5                # descending
xdotool mousemove 640 1010
"${PYTHON:-python3}" -c "
import sys
from PIL import ImageGrab
ImageGrab.grab(xdisplay='$DISPLAY').crop((0, 0, 1280, 975)).save(sys.argv[1], optimize=True)
" "$out"
echo "wrote $out"
