#!/usr/bin/env bash
# Drive the service with its own MType, vo_ocml.membership.run, and per-message options,
# using JSAMP's message sender (synchronous: prints the reply with the new table's URL).
#   samp_hub_scripts/run_membership.sh /data/m67.vot threshold 0.8 cluster "NGC 2682"
#   samp_hub_scripts/run_membership.sh t.vot centroid -10.97,-2.91,1.15 send none
# Options (name value pairs): method mstgmm|dec, threshold 0-1, cluster NAME,
# centroid PMRA,PMDEC,PARALLAX, send broadcast|select|both|none, to sender|all,
# format votable|fits|csv|ecsv (default: from the content), name NAME, table-id ID.  Needs: apt install jsamp
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { echo "usage: $0 TABLE_FILE [NAME VALUE]..." >&2; exit 2; }
file=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
params=(-param url "file://$file")
while [ $# -ge 2 ]; do params+=(-param "$1" "$2"); shift 2; done
exec java "${JAVA_NO_NET[@]}" -classpath "$JARS/jsamp.jar" org.astrogrid.samp.JSamp \
     messagesender -mtype vo_ocml.membership.run -mode sync -targetname vo-ocml "${params[@]}"
