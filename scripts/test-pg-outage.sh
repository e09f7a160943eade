#!/usr/bin/env bash
# PostgreSQL stopped and started under a running `semsearch serve --store`: while it is down,
# searches and writes get 503 `store_unavailable` (never an empty result, never a lost write);
# once it is back, the server answers again by itself and the acknowledged document is there.
# Run by scripts/test.sh, on a PostgreSQL cluster of its own (another folder and port), so that
# stopping it disturbs nothing else; the cluster is removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
export SEMSEARCH_PG_HOME="${SEMSEARCH_PG_HOME:-/var/lib/semsearch-pg}-outage"
export SEMSEARCH_PG_PORT="${SEMSEARCH_PG_OUTAGE_PORT:-55433}"
admin=$(scripts/postgres.sh start)
db="outage_$$"
scripts/postgres.sh psql -q "$admin" -c "CREATE DATABASE $db"
work=$(mktemp -d)
serve_corpus "$work/unused" --store "${admin%/*}/$db"
url=$SERVE_URL
# Replaces serve_corpus's own trap: stop the server and remove this cluster.
trap 'kill $SERVE_PID 2>/dev/null || true; scripts/postgres.sh destroy; rm -rf "$work"' EXIT
status() { curl -s -o "$work/body" -w '%{http_code}' -H 'content-type: application/json' "$@"; }
expect() {
  local want=$1; shift
  local got; got=$(status "$@")
  [ "$got" = "$want" ] || die "expected $want, got $got: $(cat "$work/body")"
}
expect 201 -X POST "$url/documents" -d '{"doc": "flood", "text": "The council approved a flood defence plan."}'
expect 200 -X POST "$url/search" -d '{"query": "flood defence", "k": 1}'
scripts/postgres.sh stop
expect 503 -X POST "$url/search" -d '{"query": "flood defence", "k": 1}'
grep -q store_unavailable "$work/body" || die "503 without store_unavailable: $(cat "$work/body")"
expect 503 -X POST "$url/documents" -d '{"doc": "other", "text": "Written while the database is down."}'
scripts/postgres.sh start >/dev/null
ok=""
for _ in $(seq 1 50); do
  if [ "$(status -X POST "$url/search" -d '{"query": "flood defence", "k": 1}')" = 200 ]; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || die "the server did not recover after PostgreSQL came back: $(cat "$work/body")"
grep -q '"doc":"flood"' "$work/body" || die "the acknowledged document is missing: $(cat "$work/body")"
expect 200 "$url/documents"
grep -q '"other"' "$work/body" && die "a write refused with 503 was stored"
echo "pg outage: 503 while down, recovered after restart, acknowledged write kept"
