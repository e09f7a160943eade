#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch the default model, index the bundled corpus on
# first run, then answer a sample question (or the question given as arguments).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --locked
scripts/fetch-model.sh multilingual-e5-small
bin=target/release/semsearch
corpus=tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt
if [ ! -f index/default/manifest.json ]; then
  "$bin" ingest --index index/default "$corpus"
fi
question="${*:-太湖苏州辖区已经连续多少年安全度夏？}"
echo "question: $question"
"$bin" search --index index/default -k 3 "$question"
