#!/usr/bin/env bash
# Run a standalone SAMP hub (pyvo's, via `vo-ocml hub`) in the foreground; Ctrl-C stops it
# and removes its lockfile.
#   samp_hub_scripts/start_hub.sh                 # lockfile ~/.samp (what TOPCAT/Aladin read)
#   SAMP_HUB=std-lockurl:file:///tmp/x/samp.lock samp_hub_scripts/start_hub.sh   # private hub
#   samp_hub_scripts/start_hub.sh --web-profile   # also serve browser clients
set -euo pipefail
. "$(dirname "$0")/common.sh"
exec "${VO_OCML[@]}" hub "$@"
