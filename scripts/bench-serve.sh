#!/usr/bin/env bash
# Load test of POST /search on the corpus index at concurrency 1, 4 and 16 (20 s each, wrk),
# while a second client adds and deletes a document in a loop. Prints throughput and p50/p99 per
# level, the c4/c1 throughput ratio, and checks that the writer saw no errors and that no document
# was lost. DURATION=5s for a quick run; NO_WRITER=1 for searches alone (the embedding targets:
# c4 throughput >= 2x c1, c4 p99 <= 40 ms).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
duration="${DURATION:-20s}"

command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
build
scripts/fetch-model.sh multilingual-e5-small >/dev/null
work=$(mktemp -d)
corpus_index "$work/idx"
serve_corpus "$work/idx"
url=$SERVE_URL
writer=""
trap 'kill $SERVE_PID $writer 2>/dev/null || true; rm -rf "$work"' EXIT

search_lua "$work/search.lua"

# Writer: a second wrk on one keep-alive connection, adding then deleting a small document in a
# loop for the whole run (wrk rather than curl in a shell loop: forking a curl per request cost the
# 2-core machine ~3 ms of search p50 by itself, measured with a loop that only read /healthz).
# A failed add makes the next delete a 404, so every failure shows as a non-2xx response.
cat >"$work/write.lua" <<'LUA'
local add = '{"doc": "churn", "title": "Churn", "text": "这是一个在压力测试中反复添加和删除的文档。它不应影响其他文档。"}'
-- Alternate on responses, not on calls: wrk also calls request() once while setting up.
local delete_next = false
request = function()
  if delete_next then return wrk.format("DELETE", "/documents/churn") end
  return wrk.format("POST", "/documents", {["Content-Type"] = "application/json"}, add)
end
response = function(status, headers, body)
  if status > 299 then io.stderr:write("writer got " .. status .. ": " .. body .. "\n") end
  delete_next = not delete_next
end
LUA
secs=${duration%s}
if [ -z "${NO_WRITER:-}" ]; then
  wrk -t1 -c1 -d"$((3 * secs + 5))s" -s "$work/write.lua" "$url" >"$work/writer" 2>&1 &
  writer=$!
  sleep 1
fi
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $SEMSEARCH_BIN; writer: $([ -n "${NO_WRITER:-}" ] && echo none || echo add+delete loop)"
declare -A p99s

declare -A rps
for c in 1 4 16; do
  t=$(( c < 2 ? c : 2 ))
  out=$(wrk -t"$t" -c"$c" -d"$duration" --latency -s "$work/search.lua" "$url/search")
  r=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  rps[$c]=$r
  p99s[$c]=$p99
  printf 'concurrency %-3s %8s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$c" "$r" "$p50" "$p99" "${errs:-0}"
done
python3 -c "import sys; print(f'throughput c4/c1: {float(sys.argv[2])/float(sys.argv[1]):.2f}x (target >= 2x)')" "${rps[1]}" "${rps[4]}"
echo "p99 at c4: ${p99s[4]} (target <= 40ms)"
[ -n "${NO_WRITER:-}" ] && exit 0
wait $writer 2>/dev/null || true
grep 'writer got' "$work/writer" >&2 || true
curl -s -o /dev/null -XDELETE "$url/documents/churn" || true
requests=$(awk '/requests in/ {print $1}' "$work/writer")
failures=$(awk '/Non-2xx/ {print $NF}' "$work/writer")
failures=${failures:-0}
rounds=$(( ${requests:-0} / 2 ))
docs=$(curl -s "$url/documents")
echo "writer: $rounds add+delete rounds, $failures failures"
echo "documents after the run: $docs"
echo "$docs" | grep -q '"suzhou-15th-five-year-plan-proposal"' || { echo "LOST the corpus document" >&2; exit 1; }
[ "$failures" = 0 ] || { echo "writer saw failures" >&2; exit 1; }
