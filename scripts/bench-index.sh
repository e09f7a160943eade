#!/usr/bin/env bash
# The local store at size: synthetic clustered vectors written through the store's own write
# path, then open time, one add and one delete, dense search p50/p99 and recall@10 against exact
# search (unfiltered, one-document filter, 20% deleted). SIZES="10000 100000" and SENTENCES=5
# pick the runs; each prints one JSON line, with the CPU named first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

build --example bench_index
lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print "cpu: " $2}'
for n in ${SIZES:-10000 100000}; do
  /usr/bin/time -f '{"peak_rss_mb": %M}' target/release/examples/bench_index "$n" "${SENTENCES:-5}" 2>&1 \
    | awk '/peak_rss_mb/ { rss = $2 + 0; printf "{\"peak_rss_mb\": %d}\n", rss / 1024; next } { print }'
done
