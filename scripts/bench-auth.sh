#!/usr/bin/env bash
# What authorisation costs a search: POST /search p50 on the corpus at concurrency 1 (wrk),
# against a server without keys (the anchor) and, in the same run, a server with a key file
# searched with an unfiltered read key and with a read key bound to a metadata filter (resolved
# against the documents on every request). Rounds alternate the three, so drift on a shared
# machine hits each alike. Target (collections-and-keys issue): p50 within 5% of the anchor.
# DURATION=5s ROUNDS=2 for a quick run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
duration="${DURATION:-10s}"
rounds="${ROUNDS:-3}"

command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
build
scripts/fetch-model.sh multilingual-e5-small >/dev/null
work=$(mktemp -d)
corpus_index "$work/open"
cp -r "$work/open" "$work/keyed"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat >"$work/keys.json" <<JSON
{"keys": [
  {"name": "all", "sha256": "$(sha bench-all)", "actions": ["read"]},
  {"name": "filtered", "sha256": "$(sha bench-filtered)", "actions": ["read"],
   "filter": {"type": "ne", "key": "visibility", "value": "private"}}
]}
JSON
export RUST_LOG="warn,semsearch::cli::serve=info"  # the start line names the kernels
serve_corpus "$work/open"; open_url=$SERVE_URL; open_pid=$SERVE_PID
serve_corpus "$work/keyed" --keys "$work/keys.json"; keyed_url=$SERVE_URL; keyed_pid=$SERVE_PID
trap 'kill $open_pid $keyed_pid 2>/dev/null || true; rm -rf "$work"' EXIT

search_lua "$work/plain.lua"
for key in all filtered; do
  sed "s|{\[\"Content-Type\"\] = \"application/json\"}|{[\"Content-Type\"] = \"application/json\", [\"Authorization\"] = \"Bearer bench-$key\"}|" \
    "$work/plain.lua" >"$work/$key.lua"
  grep -q "Bearer bench-$key" "$work/$key.lua" || die "could not add the key to the wrk script"
  code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$keyed_url/search" -H "Authorization: Bearer bench-$key" \
    -H 'content-type: application/json' -d '{"query": "太湖", "k": 5}')
  [ "$code" = 200 ] || die "key $key: search answered $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$keyed_url/search" -H 'content-type: application/json' -d '{"query": "太湖"}')
[ "$code" = 401 ] || die "the keyed server answered $code without a key"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); embedding: $(grep -o 'embedding in [A-Za-z0-9]* on [A-Za-z0-9]* kernels' "$SERVE_LOG" | head -1)"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f\n", v}'; }
declare -A p50s
for r in $(seq 1 "$rounds"); do
  for what in none all filtered; do
    case $what in
      none) out=$(wrk -t1 -c1 -d"$duration" --latency -s "$work/plain.lua" "$open_url/search") ;;
      *) out=$(wrk -t1 -c1 -d"$duration" --latency -s "$work/$what.lua" "$keyed_url/search") ;;
    esac
    errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    [ -z "$errs" ] || die "$what: $errs non-2xx answers"
    p=$(echo "$out" | awk '$1 == "50%" {print $2}' | to_ms)
    p50s[$what]="${p50s[$what]:-} $p"
    printf 'round %s  %-9s p50 %s ms\n' "$r" "$what" "$p"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
base=$(echo "${p50s[none]}" | median)
for what in all filtered; do
  m=$(echo "${p50s[$what]}" | median)
  awk -v m="$m" -v b="$base" -v w="$what" 'BEGIN {printf "median p50: %-9s %.2f ms vs no keys %.2f ms: ratio %.3f (target <= 1.05)\n", w, m, b, m / b}'
done
