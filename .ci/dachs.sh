#!/usr/bin/env bash
# Local GAVO DaCHS TAP service for vo_ocml's TAP tests (tests/test_tap_dachs.py).
#
#   bash .ci/dachs.sh          # install + init + import + (re)start: idempotent
#   bash .ci/dachs.sh stop     # stop the DaCHS server (PostgreSQL keeps running: .ci/run
#                              # stops it when it was not running before CI)
#
# Serves http://127.0.0.1:${DACHS_PORT:-8080}/tap with one table, gaiadr3.gaia_source:
# real Gaia DR3 rows (tests/data/tap/gaia_source.csv, see its README) under the Gaia
# archive's column names, q3c-indexed.  Needs root (apt, pg_ctlcluster, su) and
# Debian 12 (gavodachs2-server 2.7, postgresql-15).  Prints timings of every step.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${DACHS_PORT:-8080}
URL="http://127.0.0.1:$PORT"
T0=$(date +%s%N)
ts() { local d=$(( ($(date +%s%N) - T0) / 100000000 )); printf '[dachs %d.%d s] %s\n' $((d / 10)) $((d % 10)) "$*"; }

PG_SPHERE_SQL=/usr/share/postgresql/15/extension/pg_sphere--1.2.0.sql
PG_SPHERE_BACKUP=""
patch_pg_sphere() {
  grep -q '^-- a minimal set of backwards-compatible operators for GAVO DaCHS,' "$PG_SPHERE_SQL" \
    || return 0
  PG_SPHERE_BACKUP=$(mktemp -t pg_sphere_sql.XXXXXX)
  cp -p "$PG_SPHERE_SQL" "$PG_SPHERE_BACKUP"
  sed -i '/^-- a minimal set of backwards-compatible operators for GAVO DaCHS,/,/^-- debugging/{/^-- debugging/!d}' \
      "$PG_SPHERE_SQL"
}
restore_pg_sphere() {
  if [ -n "$PG_SPHERE_BACKUP" ]; then
    cp -p "$PG_SPHERE_BACKUP" "$PG_SPHERE_SQL" && rm -f "$PG_SPHERE_BACKUP"
    ts "restored $PG_SPHERE_SQL as packaged"
  fi
}

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # PostgreSQL must be running before gavodachs2-server is configured: its postinst
  # runs createdb/createuser/`dachs init`.  No systemd in CI: start the cluster by hand.
  if ! dpkg -s postgresql-15 >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends postgresql-15 >/dev/null
  fi
  pg_lsclusters -h | grep -q '^15 *main' || pg_createcluster 15 main >/dev/null
  pg_ctlcluster 15 main start 2>/dev/null || true   # "already running" is fine
  ts "postgresql 15 running"
  if ! dpkg -s postgresql-15-pgsphere postgresql-15-q3c >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends postgresql-15-pgsphere postgresql-15-q3c >/dev/null
  fi
  # pg_sphere 1.2.0 ships two DaCHS-compat "@ (bigint|spoint, smoc)" operators that
  # PostgreSQL 15.20 rejects ("commutator operator @> is already the commutator of
  # operator <@"), which breaks CREATE EXTENSION pg_sphere and with it `dachs init`.
  # Upstream pgsphere dropped them (postgrespro/pgsphere PR #92); DaCHS 2.7 does not
  # use them.  The block is deleted only while `dachs init` creates the extension: the
  # packaged file is restored when this script exits (restore_pg_sphere, trap EXIT).
  patch_pg_sphere
  if ! dpkg -s gavodachs2-server >/dev/null 2>&1; then
    # ~115 packages; invoke-rc.d's "policy-rc.d denied execution of start" is harmless
    apt-get install -y --no-install-recommends gavodachs2-server >/dev/null
  fi
  ts "gavodachs2-server installed"
  # If the postinst could not initialise (PostgreSQL was down), do it now.
  if ! su postgres -c "psql -d gavo -tAc \"select 1 from pg_extension where extname='pg_sphere'\"" 2>/dev/null | grep -q 1; then
    su postgres -c "createdb --encoding=UTF-8 --template template0 gavo" 2>/dev/null || true
    su postgres -c "createuser -s dachsroot" 2>/dev/null || true
    mkdir -p /var/gavo && chown dachsroot /var/gavo
    su dachsroot -c "dachs init"
    ts "dachs init done"
  fi
}

configure_and_import() {
  # Loopback only; serverURL ends up in every VOSI/TAP document, so pin it.
  cat >/etc/gavo.rc <<RC
[web]
bindAddress: 127.0.0.1
serverPort: $PORT
serverURL: $URL
RC
  local dest=/var/gavo/inputs/gaiadr3
  mkdir -p "$dest/data"
  cp "$ROOT/tests/tap/gaiadr3.rd" "$dest/q.rd"
  cp "$ROOT/tests/data/tap/gaia_source.csv" "$dest/data/gaia_source.csv"
  chown -R dachsroot:gavo "$dest"
  (cd /var/gavo/inputs && su dachsroot -c "dachs imp gaiadr3/q") | tail -1
  ts "imported gaiadr3/q (table gaiadr3.gaia_source)"
}

available() { curl -sf "$URL/tap/availability" 2>/dev/null | grep -q '<avl:available>true'; }

start_server() {
  if available; then
    (cd /var/gavo && dachs serve reload) >/dev/null 2>&1 || (cd /var/gavo && dachs serve restart)
  else
    (cd /var/gavo && dachs serve start) || true   # daemonises, drops to user gavo
  fi
  for _ in $(seq 1 300); do available && break; sleep 0.1; done
  available || { echo "DaCHS did not come up at $URL/tap" >&2; exit 1; }
  ts "DaCHS TAP up at $URL/tap"
}

if [ "$(id -u)" != 0 ]; then echo "$0: needs root (apt-get, pg_ctlcluster, su)" >&2; exit 1; fi
case "${1:-setup}" in
  setup) trap restore_pg_sphere EXIT; install_packages; configure_and_import; start_server ;;
  stop)  (cd /var/gavo && dachs serve stop) || true; ts "stopped" ;;
  *) echo "usage: $0 [setup|stop]" >&2; exit 2 ;;
esac
