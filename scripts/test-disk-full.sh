#!/usr/bin/env bash
# A full disk under a running `semsearch serve` (tiny model, index on a small tmpfs): writes go
# on until the disk is full; every acknowledged write is kept; the failing ones are 507
# `disk_full` JSON errors, the server stays up and /healthz says `degraded` with the cause; once space is freed, writes succeed again and
# are found by lexical and dense search, also after a restart. Before the fix, a lexical commit
# that failed left tantivy's writer broken: later writes were acknowledged and never reached
# keyword search. Run by scripts/test.sh; needs root (or sudo) to mount the tmpfs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
[ -x "$SEMSEARCH_BIN" ] || build
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

work=$(mktemp -d)
disk="$work/disk"
mkdir -p "$disk"
$sudo_cmd mount -t tmpfs -o "size=${DISK_MB:-5}m" tmpfs "$disk" || die "cannot mount a tmpfs (needs root)"
[ -n "$sudo_cmd" ] && $sudo_cmd chown "$(id -u)" "$disk"
"$SEMSEARCH_BIN" write-tiny-model "$work/tiny" 2>/dev/null
export SEMSEARCH_MODEL="$work/tiny"
# Ballast: removing it is "space is freed". It is larger than the index grows before the disk
# fills, so the freed space holds any merge the next writes start (a merge rewrites its segments
# before it deletes them): with less, a write after the freeing could fill the disk again.
head -c $((3 * 1024 * 1024)) /dev/zero >"$disk/ballast"
cleanup() { kill "$SERVE_PID" 2>/dev/null || true; wait 2>/dev/null || true; $sudo_cmd umount "$disk"; rm -rf "$work"; }
serve_corpus "$disk/idx"
trap cleanup EXIT
url=$SERVE_URL

post() {  # post DOC -> HTTP status; body in $work/body
  local words="" j
  for j in $(seq 1 150); do words="$words w${1}x$j$RANDOM"; done
  curl -s -o "$work/body" -w '%{http_code}' -H 'content-type: application/json' -X POST "$url/documents" \
    -d "{\"doc\": \"$1\", \"text\": \"Paragraph one of $1: unique$1 $words.\n\nParagraph two of $1: $words.\n\nParagraph three: $words.\"}"
}
search() {  # search MODE QUERY [FILTER] -> the hits' documents, one per line
  curl -sf -H 'content-type: application/json' -X POST "$url/search" \
    -d "{\"query\": \"$2\", \"k\": 3, \"mode\": \"$1\"${3:+, \"filter\": $3}}" \
    | python3 -c 'import json, sys; [print(h["doc"]) for h in json.load(sys.stdin)["results"]]'
}
# DOC's unique word found by lexical search over everything, and DOC's passages by dense search
# (restricted to DOC: the tiny model ranks nothing, but only vectors in the index are found).
check_found() {
  local lex dense
  lex=$(search lexical "unique$1") || true
  grep -qx "$1" <<<"$lex" || { show "lexical" "unique$1" ""; die "lexical search does not find $1"; }
  dense=$(search dense "Paragraph one of $1" "{\"doc\": \"$1\"}") || true
  grep -qx "$1" <<<"$dense" || { show "dense" "Paragraph one of $1" "{\"doc\": \"$1\"}"; die "dense search does not find $1"; }
}
show() {  # show MODE QUERY [FILTER]: the raw answer and the server's log, for a failed check
  curl -s -w ' (HTTP %{http_code})' -H 'content-type: application/json' -X POST "$url/search" \
    -d "{\"query\": \"$2\", \"k\": 3, \"mode\": \"$1\"${3:+, \"filter\": $3}}" >&2 || true
  echo >&2; ls -la "$disk" "$disk/idx" >&2 || true; df -h "$disk" >&2 || true; tail -n 30 "$SERVE_LOG" >&2
}

acked=()
full=0
for i in $(seq 1 3000); do
  code=$(post "d$i")
  case "$code" in
    201) acked+=("d$i") ;;
    507)
      grep -q '"code":"disk_full"' "$work/body" || die "507 without disk_full: $(cat "$work/body")"
      full=$((full + 1))
      [ "$full" -ge 5 ] && break ;;
    *) tail -n 20 "$SERVE_LOG" >&2; die "write d$i answered $code: $(cat "$work/body")" ;;
  esac
done
[ "$full" -ge 5 ] || die "the disk never filled (${#acked[@]} writes acknowledged)"
health=$(curl -sf "$url/healthz") || die "the server does not answer /healthz on a full disk"
grep -q '"status":"degraded"' <<<"$health" && grep -q '"code":"disk_full"' <<<"$health" \
  || die "/healthz does not report the failing writes: $health"
echo "disk full: ${#acked[@]} writes acknowledged, then 507 disk_full; server up"

listed() { curl -sf "$url/documents" | python3 -c 'import json, sys; [print(d["doc"]) for d in json.load(sys.stdin)["documents"]]' | sort; }
check_all() {
  local have; have=$(listed)
  for d in "${acked[@]}"; do grep -qx "$d" <<<"$have" || die "acknowledged $d is missing"; done
  [ "$(wc -l <<<"$have")" -eq "${#acked[@]}" ] || die "documents that were refused are listed"
  check_found "${acked[-1]}"
}
check_all

rm -f "$disk/ballast"
for d in after1 after2 after3; do
  code=$(post "$d")
  [ "$code" = 201 ] || die "after space was freed, $d answered $code: $(cat "$work/body")"
  acked+=("$d")
done
check_all
for d in after1 after2 after3; do check_found "$d"; done
health=$(curl -sf "$url/healthz")
[ "$health" = '{"status":"ok"}' ] || die "/healthz after writes resumed: $health"
echo "disk full: writes resume once space is freed, found by lexical and dense search; /healthz ok again"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
serve_corpus "$disk/idx"
trap cleanup EXIT
url=$SERVE_URL
check_all
for d in after1 after2 after3; do check_found "$d"; done
echo "disk full: after a restart every acknowledged write is there and searchable"
