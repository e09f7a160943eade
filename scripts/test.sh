#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine (models from PyPI wheels), then runs them.
# Everything builds in the release profile: candle is unusably slow unoptimised, and one profile
# means one compilation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --locked
scripts/fetch-model.sh multilingual-e5-small
scripts/fetch-model.sh m3e-small
# The shared-store tests need a PostgreSQL with pgvector: started here from its PyPI wheel
# (scripts/postgres.sh, which refuses a CPU the build cannot run on and smoke-tests pgvector),
# and stopped at the end when this script started it.
if ! scripts/postgres.sh status >/dev/null 2>&1; then
  trap 'scripts/postgres.sh stop' EXIT
fi
SEMSEARCH_TEST_PG="$(scripts/postgres.sh start)"
export SEMSEARCH_TEST_PG
# Nothing here may assume a CPU feature: PostgreSQL and semsearch under qemu's AVX2-only and
# no-AVX CPUs, whatever this machine has.
scripts/test-cpu-guard.sh
# The PostgreSQL tests are #[ignore]d (skipped without a database); here they run.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --locked --no-fail-fast --run-ignored all
  cargo test --release --locked --doc
else
  cargo test --release --locked -- --include-ignored
fi
# Crash safety with real processes: SIGKILLs of a serving process under a writer (short run).
KILLS="${SOAK_KILLS:-10}" scripts/soak-crash.sh
# The same in a collection other than `default` (made on the first start, written under
# /collections/hr/).
COLLECTION=hr KILLS="${SOAK_COLLECTION_KILLS:-5}" scripts/soak-crash.sh
# Backups of a serving index under a writer, each served and checked (`semsearch backup`).
BACKUPS="${SOAK_BACKUPS:-20}" scripts/soak-crash.sh
# A full disk under a running server: acknowledged writes kept, 507, writes resume (tmpfs).
scripts/test-disk-full.sh
scripts/test-pg-outage.sh
scripts/test-e2e.sh
# The library eval at a size that fits (the corpus among 120 unrelated paragraphs, ~2 minutes):
# English questions must still find their Chinese clauses (before per-script backgrounds: 0.917;
# now 0.958 on the AVX2 f32 path: 23 of 24); related clauses must beat whole-clause nearest
# neighbours on the plan's chapters (0.497 against 0.441).
PARAGRAPHS=40 MIN_RECALL5=0.95 RELATED_GATE=1 scripts/eval-library.sh
