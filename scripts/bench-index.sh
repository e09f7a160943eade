#!/usr/bin/env bash
# The local store at size: embedding-like synthetic vectors (seeded by real e5 vectors, see
# examples/bench_index.rs) written through the store's own write path, then open time, memory,
# one add and one delete, dense search p50/p99 and recall@10 against exact search (unfiltered,
# one-document filter, 20% deleted); then the anchor, hnswlib (PyPI, in a scratch virtualenv) on
# the same vectors and queries: its build time (of the same vector sets, M and ef_construction
# equal) and its queries/s at our recall@10, as ratios. SIZES="10000 100000" and
# SENTENCES=5 pick the runs; BENCH_KEEP=DIR keeps built indexes (ours and hnswlib's passage
# graph) there and reuses them (to compare search code without building again),
# BENCH_SKIP_DELETES=1 leaves out the 20% deletes; the CPU is named first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

build --example bench_index
"$TARGET"/release/examples/bench_index 0   # embeds the seed vectors once (cached)
lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print "cpu: " $2}'
venv="${SEMSEARCH_CACHE:-$HOME/.cache/semsearch}/venv-hnswlib"
if ! "$venv/bin/python" -c "import hnswlib, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check hnswlib==0.8.0 numpy==2.4.6
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for n in ${SIZES:-10000 100000}; do
  out=$(BENCH_EXPORT="$work" BENCH_KEEP="${BENCH_KEEP:-}" /usr/bin/time -f 'peak_rss_kb %M' "$TARGET"/release/examples/bench_index "$n" "${SENTENCES:-5}" 2>"$work/time")
  echo "$out"
  awk '/peak_rss_kb/ { printf "{\"peak_rss_mb\": %d}\n", $2 / 1024 }' "$work/time"
  recall=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recall@10"])')
  qps=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queries_per_s"])')
  build_s=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["build_s"])')
  ANCHOR_KEEP=${BENCH_KEEP:+$BENCH_KEEP/hnswlib-$n-${SENTENCES:-5}.bin} \
    "$venv/bin/python" scripts/bench-index-anchor.py "$work" "$recall" "$qps" "$build_s"
done
