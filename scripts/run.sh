#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch the default model, index the bundled corpus on
# first run, then serve it (web page, JSON API) on http://127.0.0.1:8080/ (SEMSEARCH_ADDR to change).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

build
scripts/fetch-model.sh multilingual-e5-small
corpus_index index/default
addr="${SEMSEARCH_ADDR:-127.0.0.1:8080}"
echo "serving the bundled corpus on http://$addr/  (try: curl 'http://$addr/search?q=太湖')"
exec "$SEMSEARCH_BIN" serve --index index/default --addr "$addr"
