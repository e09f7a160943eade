#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch the default model, index the bundled corpus on
# first run, then serve it (web page, JSON API) on http://127.0.0.1:8080/ (SEMSEARCH_ADDR to change).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --locked
scripts/fetch-model.sh multilingual-e5-small
bin=target/release/semsearch
if [ ! -f index/default/manifest.json ]; then
  "$bin" ingest --index index/default tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt
fi
addr="${SEMSEARCH_ADDR:-127.0.0.1:8080}"
echo "serving the bundled corpus on http://$addr/  (try: curl 'http://$addr/search?q=太湖')"
exec "$bin" serve --index index/default --addr "$addr"
