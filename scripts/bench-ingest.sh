#!/usr/bin/env bash
# `semsearch ingest` wall time and peak RSS, this tree against a base revision, in one run on the
# same machine: the bundled corpus (one document, 99 passages) and a JSONL of 240 short documents
# (the first 120 CMRC 2018 and 120 XQuAD zh paragraphs, one document each). Each input is
# ingested into a fresh index, alternating base and this tree, REPS times; the best time of each
# is kept. Then this tree with --sentence-vectors late.
#   BASE_BIN=path   the base binary (else BASE_REV, default 80e9857, is built in a worktree)
#   REPS=2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
reps="${REPS:-2}"
build
scripts/fetch-model.sh multilingual-e5-small >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base="${BASE_BIN:-}"
if [ -z "$base" ]; then
  rev="${BASE_REV:-80e9857}"
  tree="${SEMSEARCH_CACHE:-$HOME/.cache/semsearch}/base-$rev"
  if [ ! -x "$tree/target/release/semsearch" ]; then
    rm -rf "$tree"
    git worktree add --detach "$tree" "$rev" >/dev/null 2>&1 || git -C "$tree" checkout -q "$rev"
    (cd "$tree" && cargo build --release --locked --quiet --bin semsearch)
  fi
  base="$tree/target/release/semsearch"
fi

python3 - "$work/short.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1], "w")
for path, n in [("tests/fixtures/eval/cmrc2018_trial.json", 120), ("tests/fixtures/eval/xquad.zh.json", 120)]:
    data = json.load(open(path))
    ctx = [p["context"] for a in data["data"] for p in a["paragraphs"]][:n]
    for i, c in enumerate(ctx):
        out.write(json.dumps({"doc": f"{path.split('/')[-1].split('.')[0]}-{i}", "title": f"paragraph {i}", "text": c}, ensure_ascii=False) + "\n")
PY
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); short.jsonl: $(wc -l <"$work/short.jsonl") documents, $(wc -m <"$work/short.jsonl") characters"

# time_ingest NAME BIN INPUT [FLAGS...] -> prints "seconds peak_kb"
time_ingest() {
  local bin="$2" input="$3"; shift 3
  rm -rf "$work/idx"
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" ingest --index "$work/idx" "$input" "$@" >/dev/null
  cat "$work/time"
}

declare -A best
for input in corpus short; do
  path=$CORPUS; [ "$input" = short ] && path="$work/short.jsonl"
  for r in $(seq 1 "$reps"); do
    for who in base new late; do
      case $who in
        base) out=$(time_ingest "$who" "$base" "$path") ;;
        new) out=$(time_ingest "$who" "$SEMSEARCH_BIN" "$path") ;;
        late) out=$(time_ingest "$who" "$SEMSEARCH_BIN" "$path" --sentence-vectors late) ;;
      esac
      echo "$input $who run $r: ${out% *} s, peak ${out#* } KB"
      key="$input/$who"; secs=${out% *}
      if [ -z "${best[$key]:-}" ] || python3 -c "import sys; sys.exit(0 if $secs < ${best[$key]} else 1)"; then best[$key]=$secs; fi
    done
  done
done
for input in corpus short; do
  b=${best[$input/base]} n=${best[$input/new]} l=${best[$input/late]}
  python3 - "$input" "$b" "$n" "$l" <<'PY'
import sys
name, b, n, l = sys.argv[1], *map(float, sys.argv[2:])
print(f"{name:<7} base {b:6.1f} s  new {n:6.1f} s ({b / n:4.2f}x, target >= 3x {'OK' if b / n >= 3 else 'MISSED'})  new+late {l:6.1f} s ({b / l:4.2f}x)")
PY
done
