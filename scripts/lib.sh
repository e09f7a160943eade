# Shared by the scripts: source it after `cd` to the repository root.
#   TARGET                     cargo's target folder (CARGO_TARGET_DIR, default target)
#   SEMSEARCH_BIN              the binary the scripts run (default $TARGET/release/semsearch)
#   build                      cargo build --release --locked (quiet unless it fails)
#   corpus_index DIR           index the bundled corpus into DIR unless it is there already
#   search_lua FILE            a wrk script posting the benchmark questions to /search in turn
#   serve_corpus DIR [ARGS...] serve DIR on a free loopback port in the background; sets
#                              SERVE_URL, SERVE_PID and SERVE_LOG (its log file), stops the server on exit, and fails loudly
#                              (with the server's log) if it is not healthy within 60 s
set -euo pipefail

TARGET=${CARGO_TARGET_DIR:-target}
SEMSEARCH_BIN=${SEMSEARCH_BIN:-$TARGET/release/semsearch}
CORPUS=tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

build() {
  cargo build --release --locked --quiet "$@" || die "cargo build failed"
}

corpus_index() {
  "$SEMSEARCH_BIN" ingest --skip-existing --index "$1" "$CORPUS" >/dev/null \
    || die "indexing $CORPUS into $1 failed"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

serve_corpus() {
  local dir="$1"; shift
  local port log
  port=$(free_port)
  log=$(mktemp)
  SERVE_LOG=$log
  SERVE_URL="http://127.0.0.1:$port"
  RUST_LOG="${RUST_LOG:-warn}" "$SEMSEARCH_BIN" serve --index "$dir" --addr "127.0.0.1:$port" "$@" >"$log" 2>&1 &
  SERVE_PID=$!
  trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    curl -sf "$SERVE_URL/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$log" >&2; die "the server exited before it was healthy"; }
    sleep 0.2
  done
  cat "$log" >&2
  die "the server at $SERVE_URL was not healthy within 60 s"
}

search_lua() {
  cat >"$1" <<'LUA'
local questions = {
  "太湖苏州辖区已经连续多少年安全度夏？", "苏州的全社会研发投入强度达到了多少？",
  "How will unmanned aerial vehicles be controlled?", "化解基层矛盾要坚持什么经验？",
  "What share of the economy should manufacturing keep?", "苏州打算提前布局哪些未来产业？",
}
local i = 0
request = function()
  i = i + 1
  local body = '{"query": "' .. questions[(i % #questions) + 1] .. '", "k": 5}'
  return wrk.format("POST", "/search", {["Content-Type"] = "application/json"}, body)
end
LUA
}
