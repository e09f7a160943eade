#!/usr/bin/env bash
# Crash soak (see scripts/soak-crash.py): KILLS=50 SIGKILLs of `semsearch serve` under a writer,
# every acknowledged write checked after every restart. BACKUPS=N instead takes N backups under
# the writer and checks each (no kills). MODEL=DIR picks the model (default: the
# tiny test model, so that the kills land in saves and merges rather than in embedding).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model="${MODEL:-$work/tiny}"
[ -d "$model" ] || "$SEMSEARCH_BIN" write-tiny-model "$model" 2>/dev/null
python3 scripts/soak-crash.py "$SEMSEARCH_BIN" "$model" "$work" "${KILLS:-50}"
