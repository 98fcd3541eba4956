#!/usr/bin/env bash
# Size and time of the README's two install commands, each in a fresh virtual environment
# made by the system Python (what a new user on Debian 12 does):
#   bash tools/measure_install.sh [SOURCE_DIR]      # default: this checkout
# Prints one line per command: wall time of `pip install` and `du` of the whole venv.
# The pip cache is disabled so that every run downloads/unpacks the same way.
set -euo pipefail
SRC=$(cd "${1:-$(dirname "$0")/..}" && pwd)
PY=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d -t vo_ocml_install.XXXXXX)
trap 'rm -rf "$W"' EXIT
for spec in "." ".[test]"; do
  "$PY" -m venv "$W/venv"
  t0=$(date +%s.%N)
  (cd "$SRC" && PIP_NO_CACHE_DIR=1 "$W/venv/bin/pip" install -q -e "$spec" >/dev/null)
  t1=$(date +%s.%N)
  size=$(du -sm "$W/venv" | cut -f1)
  printf 'pip install -e "%s": %.0f s, venv %s MB\n' "$spec" "$(echo "$t1 - $t0" | bc)" "$size"
  rm -rf "$W/venv"
done
