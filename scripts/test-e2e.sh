#!/usr/bin/env bash
# End-to-end tests with real clients: installs Debian Chromium, playwright-core and the official
# OpenAI SDK if missing, serves the bundled corpus from a temporary index (with an API key), drives
# the page (saves target/e2e/search.png), then calls the server as OpenAI's SDK and Dify do, and
# as the official MCP TypeScript SDK does over stdio and streamable HTTP; then serves a copy behind
# a key file whose read keys the page, the OpenAI SDK and the MCP SDK must send.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then
  echo "test-e2e: installing Debian chromium and a CJK font" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null
fi
(cd tests/e2e && npm ci --no-audit --no-fund --silent)

[ -x "$SEMSEARCH_BIN" ] || build
work=$(mktemp -d)
corpus_index "$work/idx"
export SEMSEARCH_API_KEY="e2e-$RANDOM$RANDOM"
serve_corpus "$work/idx"
trap 'kill $SERVE_PID 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p target/e2e
node tests/e2e/search.mjs "$SERVE_URL/" target/e2e/search.png
node tests/e2e/clients.mjs "$SERVE_URL"
node tests/e2e/mcp.mjs "$SERVE_URL" "$SEMSEARCH_BIN" "${SEMSEARCH_MODEL:-models/multilingual-e5-small}" "$work/idx"
node tests/e2e/facets.mjs "$SERVE_URL" target/e2e/facets.png

# A private library: the same corpus behind a key file with read keys.
cp -r "$work/idx" "$work/private"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
read_key="read-$RANDOM$RANDOM"; filtered_key="filtered-$RANDOM$RANDOM"
cat >"$work/keys.json" <<JSON
{"keys": [
  {"name": "reader", "sha256": "$(sha "$read_key")", "actions": ["read"]},
  {"name": "public-only", "sha256": "$(sha "$filtered_key")", "actions": ["read"],
   "filter": {"type": "eq", "key": "visibility", "value": "public"}}
]}
JSON
first_pid=$SERVE_PID
serve_corpus "$work/private" --keys "$work/keys.json"
trap 'kill $first_pid $SERVE_PID 2>/dev/null || true; rm -rf "$work"' EXIT
node tests/e2e/keys.mjs "$SERVE_URL" "$read_key" "$filtered_key" target/e2e/keys-390.png
