#!/usr/bin/env bash
# Query latency of hybrid vs dense (and lexical) search on the corpus index, in one run with the
# modes interleaved; target: hybrid p50 within 1.3x of dense.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

scripts/fetch-model.sh multilingual-e5-small >/dev/null
build --bin semsearch --example bench_search
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
corpus_index "$work/idx"
"$TARGET"/release/examples/bench_search models/multilingual-e5-small "$work/idx" "${ROUNDS:-8}"
