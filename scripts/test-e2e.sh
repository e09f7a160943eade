#!/usr/bin/env bash
# Browser end-to-end test: installs Debian Chromium and playwright-core if missing, serves the
# bundled corpus from a temporary index, drives the page, saves target/e2e/search.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then
  echo "test-e2e: installing Debian chromium and a CJK font" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null
fi
(cd tests/e2e && npm ci --no-audit --no-fund --silent)

bin=target/release/semsearch
[ -x "$bin" ] || cargo build --release --locked
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" ingest --index "$work/idx" tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt >/dev/null 2>&1
"$bin" serve --index "$work/idx" --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
mkdir -p target/e2e
node tests/e2e/search.mjs "http://127.0.0.1:$port/" target/e2e/search.png
