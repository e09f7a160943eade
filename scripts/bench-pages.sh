#!/usr/bin/env bash
# Grouped search against ungrouped, and batched search against one question at a time, in one
# run on the library index of scripts/eval-library.sh (the corpus among unrelated paragraphs,
# one document each; built once). Targets (issue 25): grouped with group_size 1 returns k
# distinct documents within 1.3x the ungrouped p50; a batch of 32 questions at least 2x the
# throughput of the same questions one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

scripts/fetch-model.sh multilingual-e5-small >/dev/null
build --bin semsearch --example bench_pages
n=${PARAGRAPHS:-40}
lib=index/library-$n
# The library eval builds (or reuses) the index; its figures are not this benchmark's.
PARAGRAPHS=$n scripts/eval-library.sh >/dev/null 2>&1 || die "could not build the library index $lib"
lscpu | grep -m1 'Model name' >&2
"$TARGET"/release/examples/bench_pages models/multilingual-e5-small "$lib" "${ROUNDS:-4}"
