#!/usr/bin/env bash
# Reproduce docs/samp_aladin.png headless: a private hub, Xvfb, vo-ocml listen and Aladin 12;
# Aladin opens TABLE and broadcasts it (Interop → Broadcast selected planes), loads the
# annotated plane back and selects the members in its own plane; the view is centred on them.
#   samp_hub_scripts/aladin_screenshot.sh tests/data/samp/m67_dr3_pmbox.csv docs/samp_aladin.png
# (TABLE: VOTable, FITS or .csv; click positions assume Aladin 12 moved to (0, 0) on a bare 1280x1024 screen.)
# Aladin ignores SAMP_HUB: it reads the lockfile from <user.home>/.samp, so it gets a private
# home whose .samp is the hub's lockfile. Needs: apt install aladin xvfb xdotool; Python with
# pyvo and Pillow.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -eq 2 ] || { echo "usage: $0 TABLE.vot OUT.png" >&2; exit 2; }
table=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
PY=${PYTHON:-python3}
work=$(mktemp -d -t aladin-shot.XXXXXX)
mkdir -p "$work/home"
export SAMP_HUB="std-lockurl:file://$work/home/.samp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# aladin SCRIPT [TIMEOUT|notify]: run an Aladin script command over SAMP (script.aladin.send)
# and print its result, or just send it (notify)
aladin() {
  "$PY" - "$1" "${2:-60}" <<'EOF'
import sys
from pyvo.samp import SAMPIntegratedClient, conf
conf.use_internet = False
client = SAMPIntegratedClient(name="aladin-shot", addr="127.0.0.1")
client.connect()
try:
    target = next(c for c in client.get_subscribed_clients("script.aladin.send"))
    message = {"samp.mtype": "script.aladin.send", "samp.params": {"script": sys.argv[1]}}
    if sys.argv[2] == "notify":  # commands Aladin may never answer (view changes)
        client.notify(target, message)
    else:
        reply = client.call_and_wait(target, message, sys.argv[2])
        print(reply.get("samp.result", {}).get("script.result", ""))
finally:
    client.disconnect()
EOF
}
setsid "${VO_OCML[@]}" hub -q >"$work/hub.log" 2>&1 & pids+=($!)
wait_for 60 test -s "$work/home/.samp"
setsid "${VO_OCML[@]}" listen -v >"$work/listen.log" 2>&1 & pids+=($!)
start_xvfb
wait_for 120 grep -q "registered as" "$work/listen.log"
setsid java -Xmx1024m -Duser.home="$work/home" "${JAVA_NO_NET[@]}" -jar "$JARS/aladin.jar" \
     -local -nolog -noreleasetest -noplugin -nobeta >"$work/aladin.log" 2>&1 & pids+=($!)
wait_for 120 sh -c "xdotool search --name '^Aladin v'"
sleep 5
case "$table" in  # Aladin reads VOTable; anything else is converted first
  *.vot|*.xml) ;;
  *) "$PY" -c "
import sys
from astropy.table import Table
Table.read(sys.argv[1]).write(sys.argv[2], format='votable', tabledata_format='binary2')
" "$table" "$work/$(basename "${table%.*}").vot"; table="$work/$(basename "${table%.*}").vot" ;;
esac
aladin "load $table" >/dev/null
sleep 5
xdotool windowmove "$(xdotool search --name '^Aladin v' | head -1)" 0 0; sleep 1
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }
for _ in 1 2 3 4 5; do           # Interop → Broadcast selected planes
  click 465 12; click 533 78 2
  grep -q "received .* table.load.votable from" "$work/listen.log" && break
  xdotool key Escape
done
wait_for 300 grep -q "received response to table.select.rowList.*samp.ok" "$work/listen.log"
sleep 2
# centre on the members (their mean position) and zoom on them
centre=$("$PY" -c "
import sys, numpy as np
from astropy.table import Table
t = Table.read(sys.argv[1])
print(f'{np.nanmedian(t[\"ra\"]):.4f} {np.nanmedian(t[\"dec\"]):+.4f}')" "$table")
aladin "$centre" notify   # view changes: Aladin may not answer them as calls
sleep 2
aladin "zoom 1.5deg" notify
sleep 5
xdotool mousemove 640 1010
"$PY" -c "
import sys
from PIL import ImageGrab
ImageGrab.grab(xdisplay='$DISPLAY').crop((0, 0, 1250, 900)).save(sys.argv[1], optimize=True)
" "$out"
echo "wrote $out"
