"""The anchor of scripts/bench-index.sh: hnswlib on the same vectors and queries, one thread,
at several beams; prints its queries/s and recall@10 at each, and its queries/s at our recall
(interpolated between the two beams around it). Its build (M 24, ef_construction 200, 2
threads) covers what the store builds graphs of: the passage vectors and, when there are any,
the sentence vectors. usage: bench-index-anchor.py EXPORT_DIR OUR_RECALL OUR_QPS [OUR_BUILD_S]"""
import json, os, sys, time
import hnswlib
import numpy as np

d, our_recall, our_qps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
our_build = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] not in ("", "None") else None
x = np.fromfile(f"{d}/vectors.f32", dtype="<f4").reshape(-1, 384)
q = np.fromfile(f"{d}/queries.f32", dtype="<f4").reshape(-1, 384)
exact = np.argsort(-(q @ x.T), axis=1)[:, :10]


def built(vectors):
    index = hnswlib.Index(space="ip", dim=384)
    index.init_index(max_elements=len(vectors), M=24, ef_construction=200)
    index.set_num_threads(2)
    index.add_items(vectors, np.arange(len(vectors)))
    return index


# ANCHOR_KEEP=FILE: the passage graph is saved there and loaded on the next run (its build time
# is then the one measured when it was saved).
keep = os.environ.get("ANCHOR_KEEP") or None
if keep and os.path.exists(keep):
    index = hnswlib.Index(space="ip", dim=384)
    index.load_index(keep)
    build = json.load(open(keep + ".json"))["build_s"]
else:
    t = time.perf_counter()
    index = built(x)
    build = time.perf_counter() - t
    if keep:
        index.save_index(keep)
        json.dump({"build_s": build}, open(keep + ".json", "w"))
build_sentences = 0.0
path = f"{d}/sentences.f32"
if os.path.exists(path) and os.path.getsize(path) > 0:
    t = time.perf_counter()
    built(np.fromfile(path, dtype="<f4").reshape(-1, 384))
    build_sentences = time.perf_counter() - t
index.set_num_threads(1)
rows = []
for ef in [16, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512]:
    index.set_ef(ef)
    t = time.perf_counter()
    labels = [index.knn_query(v, k=10)[0][0] for v in q]
    qps = len(q) / (time.perf_counter() - t)
    recall = np.mean([len(set(l) & set(e)) / 10 for l, e in zip(labels, exact)])
    rows.append({"ef": ef, "recall@10": recall, "queries_per_s": qps})
# Recall rises with the beam and queries/s falls: interpolate between the last beam below our
# recall and the first at or above it.
i = next((i for i, r in enumerate(rows) if r["recall@10"] >= our_recall), len(rows) - 1)
hi, lo = rows[i], rows[max(i - 1, 0)]
span = hi["recall@10"] - lo["recall@10"]
w = 0.0 if span <= 0 else min(max((our_recall - lo["recall@10"]) / span, 0.0), 1.0)
qps = lo["queries_per_s"] + w * (hi["queries_per_s"] - lo["queries_per_s"])
out = {"anchor": "hnswlib", "build_s": build + build_sentences, "build_passages_s": build,
       "build_sentences_s": build_sentences, "runs": rows, "qps_at_our_recall": qps,
       "ours_over_hnswlib_qps": our_qps / qps}
if our_build is not None:
    out["our_build_over_hnswlib"] = our_build / (build + build_sentences)
print(json.dumps(out))
