#!/usr/bin/env bash
# Start TOPCAT (with its own hub unless one is running) and the membership service next to it.
# Quitting TOPCAT stops the service.  Extra arguments are tables for TOPCAT to open.
#   samp_hub_scripts/topcat_with_service.sh cone.vot
#   LISTEN_OPTS="--threshold 0.8 -v" samp_hub_scripts/topcat_with_service.sh
# Then in TOPCAT: select a table and press "Broadcast table" (or Interop > Send table to >
# vo-ocml). Needs: apt install topcat
set -euo pipefail
. "$(dirname "$0")/common.sh"
java "${JAVA_NO_NET[@]}" -classpath "$JARS/starlink-topcat.jar" uk.ac.starlink.topcat.Driver \
     -samp "$@" &
topcat=$!
wait_for 120 test -s "$(samp_lockfile)"
# shellcheck disable=SC2086
"${VO_OCML[@]}" listen ${LISTEN_OPTS:-} &
listen=$!
trap 'kill "$listen" 2>/dev/null || true; wait "$listen" 2>/dev/null || true' EXIT
wait "$topcat"
