#!/usr/bin/env bash
# Send a table file to the service from the command line with STILTS and wait for its answer.
#   samp_hub_scripts/send_table.sh cone.vot            # any format STILTS reads (VOTable, FITS, CSV…)
#   CLIENT=topcat samp_hub_scripts/send_table.sh t.fits
# STILTS serves the table over http://127.0.0.1 until vo-ocml replies (vo-ocml downloads it
# first); the annotated table then goes to every subscribed client (e.g. TOPCAT).
# Needs: apt install stilts
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { echo "usage: $0 TABLE_FILE" >&2; exit 2; }
exec java "${JAVA_NO_NET[@]}" -classpath "$JARS/starlink-ttools.jar" uk.ac.starlink.ttools.Stilts \
     tpipe in="$1" omode=samp client="${CLIENT:-vo-ocml}"
