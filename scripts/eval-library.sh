#!/usr/bin/env bash
# The library eval (issue 24): the bundled corpus inside a library of unrelated documents, every
# paragraph of the CMRC 2018 trial set and of XQuAD zh and en as a document of its own (~770
# documents), then seed-qa (hybrid, dense, lexical) and the unanswerable questions with the
# seed-qa questions as the answerable ones. One JSON line per report.
#   PARAGRAPHS=N   take the first N paragraphs of each set (default: all); CI uses a small library
#   LIBRARY=DIR    where the library index is built (default index/library-N); kept between runs,
#                  rebuilt when its inputs or model change
#   MIN_RELEVANCE  threshold for the abstention report (default: the server's)
#   MIN_RECALL5=X  fail unless hybrid seed-qa recall@5 on the library reaches X (scripts/test.sh)
#   RELATED_GATE=1 fail unless related clauses beat the whole-clause embedding baseline
#                  (`eval --related` on the plan's chapters, run on the library too)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
[ -x "$SEMSEARCH_BIN" ] || build
eval_dir=tests/fixtures/eval
n=${PARAGRAPHS:-all}
lib=${LIBRARY:-index/library-$n}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One JSONL record per paragraph; the ids say which set a paragraph came from.
python3 - "$n" "$work/library.jsonl" "$eval_dir"/cmrc2018_trial.json "$eval_dir"/xquad.zh.json \
  "$eval_dir"/xquad.en.json <<'PY'
import json, sys
limit, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
limit = None if limit == "all" else int(limit)
with open(out, "w", encoding="utf-8") as f:
    for path in files:
        name = path.rsplit("/", 1)[-1].removesuffix(".json").replace("_trial", "")
        paragraphs = [(a.get("title", ""), p["context"]) for a in json.load(open(path, encoding="utf-8"))["data"]
                      for p in a["paragraphs"]]
        for i, (title, text) in enumerate(paragraphs[:limit]):
            f.write(json.dumps({"doc": f"{name}-{i + 1}", "title": title, "text": text,
                                "clean": False}, ensure_ascii=False) + "\n")
PY
model=${SEMSEARCH_MODEL:-models/multilingual-e5-small}
stamp=$(cat "$work/library.jsonl" "$CORPUS" "$model/config.json" "$model/tokenizer.json" | sha256sum | cut -c1-16)
if [ "$(cat "$lib/.library-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$lib"
  echo "building the library index in $lib ($(wc -l <"$work/library.jsonl") paragraphs and the corpus)" >&2
  "$SEMSEARCH_BIN" ingest --index "$lib" "$CORPUS" "$work/library.jsonl" >&2 || die "ingest failed"
  echo "$stamp" >"$lib/.library-stamp"
fi
"$SEMSEARCH_BIN" eval --index "$lib" --qa "$eval_dir/seed-qa.jsonl" --compare | tee "$work/qa.jsonl"
"$SEMSEARCH_BIN" eval --index "$lib" --qa "$eval_dir/seed-qa.jsonl" \
  --unanswerable "$eval_dir/unanswerable.jsonl" ${MIN_RELEVANCE:+--min-relevance "$MIN_RELEVANCE"}
# Related clauses, within the library: the plan's clauses grouped by its chapters.
"$SEMSEARCH_BIN" eval --index "$lib" --related "$eval_dir/clause-chapters.json" | tee "$work/related.json"
if [ -n "${RELATED_GATE:-}" ]; then
  python3 - "$work/related.json" <<'PY' || die "related clauses do not beat whole-clause nearest neighbours"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"related clauses: {r['related@3']:.3f} on topic against {r['whole_clause_embedding@3']:.3f} by whole-clause embedding", file=sys.stderr)
sys.exit(0 if r["related@3"] > r["whole_clause_embedding@3"] else 1)
PY
fi
if [ -n "${MIN_RECALL5:-}" ]; then
  python3 - "$MIN_RECALL5" "$work/qa.jsonl" <<'PY' || die "hybrid recall@5 on the library is below $MIN_RECALL5"
import json, sys
want, lines = float(sys.argv[1]), [json.loads(l) for l in open(sys.argv[2])]
got = next(l["recall@5"] for l in lines if l["mode"] == "hybrid")
print(f"library eval: hybrid recall@5 {got:.3f} (at least {want})", file=sys.stderr)
sys.exit(0 if got >= want else 1)
PY
fi
