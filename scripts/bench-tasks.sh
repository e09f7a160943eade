#!/usr/bin/env bash
# Writes as tasks against writes one request at a time, in one run on one server (README,
# "Writes as tasks"): the corpus's paragraphs (N of them, default 60) as documents, sent
# (a) as N synchronous POST /documents and (b) as one POST /documents/batch task, polled to its
# end; then (b) and (a) again with other ids (ABBA, so drift hits both alike). Prints documents/s
# of each and the ratio. The real model; the CPU and kernels are printed with the figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
build
scripts/fetch-model.sh multilingual-e5-small >/dev/null
work=$(mktemp -d)
RUST_LOG=info serve_corpus "$work/idx"
trap 'kill $SERVE_PID 2>/dev/null || true; rm -rf "$work"' EXIT
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(grep -o 'embedding in .* kernels' "$SERVE_LOG" | head -1)"
python3 - "$SERVE_URL" "$CORPUS" "${N:-60}" <<'PY'
import json, sys, time, urllib.error, urllib.request
base, corpus, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
paras = [l.strip() for l in open(corpus, encoding="utf-8") if len(l.strip()) > 80][:n]

def call(method, path, body=None, ctype="application/json"):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")

def sync(tag):
    t = time.time()
    for i, p in enumerate(paras):
        st, _ = call("POST", "/documents", json.dumps({"doc": f"{tag}{i}", "text": p, "clean": False}))
        assert st == 201, st
    return time.time() - t

def task(tag):
    t = time.time()
    lines = "\n".join(json.dumps({"doc": f"{tag}{i}", "text": p, "clean": False}) for i, p in enumerate(paras))
    st, body = call("POST", "/documents/batch", lines, "application/x-ndjson")
    assert st == 202, st
    while True:
        st, task = call("GET", f"/tasks/{body['task_id']}")
        if task["status"] not in ("queued", "processing"):
            break
        time.sleep(0.05)
    assert task["status"] == "succeeded", task
    return time.time() - t

a1, b1, b2, a2 = sync("s1-"), task("t1-"), task("t2-"), sync("s2-")
a, b = (a1 + a2) / 2, (b1 + b2) / 2
print(f"{len(paras)} documents: one at a time {len(paras)/a:.2f} docs/s ({a1:.1f} s, {a2:.1f} s); "
      f"one task {len(paras)/b:.2f} docs/s ({b1:.1f} s, {b2:.1f} s); task / one at a time = {a/b:.2f}x")
PY
