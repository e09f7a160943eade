#!/usr/bin/env bash
# Metadata filters at size (issue 25): a local index of N synthetic passages (default 100,000;
# 20-passage documents, each with {"bucket": d % 100}) searched dense top-10 with no filter and
# with filters passing 1%, 30% and all passages, interleaved over ROUNDS (default 3) of 200
# queries; each search timed as the engine runs it (filter resolved, then searched), with its
# p50/p99, recall@10 against exact filtered search, and p50 as a ratio of the unfiltered p50 of
# the same run. Targets: 1% recall@10 >= 0.95 and p99 <= 50 ms; 30% within 1.5x of no filter.
# BENCH_KEEP=DIR keeps the built index (a 100k build takes minutes) and reuses it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

scripts/fetch-model.sh multilingual-e5-small >/dev/null
build --example bench_filter
lscpu | grep -m1 'Model name' >&2
"$TARGET"/release/examples/bench_filter "${1:-100000}"
