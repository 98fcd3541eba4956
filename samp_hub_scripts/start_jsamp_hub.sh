#!/usr/bin/env bash
# Run JSAMP's hub headless (no GUI, standard profile only) in the foreground.
# Honours SAMP_HUB=std-lockurl:file:///path like every SAMP tool. Needs: apt install jsamp
set -euo pipefail
. "$(dirname "$0")/common.sh"
exec java "${JAVA_NO_NET[@]}" -classpath "$JARS/jsamp.jar" org.astrogrid.samp.JSamp \
     hub -mode no-gui -profiles std "$@"
