# Shared settings for the samp_hub_scripts (sourced, not run).
# vo-ocml: the installed command, else the checkout's module.
if command -v vo-ocml >/dev/null 2>&1; then
  VO_OCML=(vo-ocml)
else
  VO_OCML=("${PYTHON:-python3}" -m vo_ocml.cli)
fi
# Keep every JVM off the network: all http(s) goes to a closed loopback port
# (TOPCAT otherwise fetches a sky-survey list from the internet on every table load).
JAVA_NO_NET=(-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9 -Dhttps.proxyHost=127.0.0.1
             -Dhttps.proxyPort=9 "-Dhttp.nonProxyHosts=localhost|127.*|[::1]")
JARS=${JARS:-/usr/share/java}
# the hub lockfile: $SAMP_HUB (std-lockurl:file:///path) or ~/.samp
samp_lockfile() {
  if [ -n "${SAMP_HUB:-}" ]; then echo "${SAMP_HUB#std-lockurl:file://}"; else echo "$HOME/.samp"; fi
}
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
  local n=$(( $1 * 10 )); shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; return 1
}
# start_xvfb: an Xvfb on a free high display number (clear of the :0/:99 servers other jobs
# start), its process group added to the caller's pids array, DISPLAY exported, ready
start_xvfb() {
  local n
  for n in $(seq $((100 + $$ % 700)) 7 999); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || break
  done
  setsid Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
  export DISPLAY=":$n"
  wait_for 20 xdotool getdisplaygeometry
}
