"""ONNX Runtime anchor for scripts/bench-ort.sh: the same encoder as semsearch's model folder,
built as an ONNX graph from its config.json and model.safetensors (no torch, no download), run
by onnxruntime in f32 and after `quantize_dynamic` (int8 weights per output channel, the engine
fastembed and text-embeddings-inference's ONNX backend use), 2 threads, passages in batches of
32 sorted by length. Prints one JSON line per precision: passages/s, tokens/s, and the cosine of
each vector to semsearch's (read from a file of JSON arrays, one per passage).

usage: bench-ort.py MODEL_DIR CONTEXTS.txt SEMSEARCH_VECTORS.jsonl WORKDIR
(CONTEXTS.txt: one passage per line, the lines semsearch embedded into SEMSEARCH_VECTORS.jsonl)
"""

import json
import math
import os
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer

model_dir, contexts_path, ours_path, work = sys.argv[1:5]
cfg = json.load(open(os.path.join(model_dir, "config.json")))
H, HEADS, LAYERS = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
EPS = cfg.get("layer_norm_eps", 1e-12)
D = H // HEADS
MAX_TOKENS = cfg["max_position_embeddings"] - cfg.get("pad_token_id", 1) - 1
BATCH = 32


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        raw = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dtype = {"F32": np.float32, "U8": np.uint8}[v["dtype"]]
        out[name] = np.frombuffer(raw[a:b], dtype=dtype).reshape(v["shape"])
    return out


W = read_safetensors(os.path.join(model_dir, "model.safetensors"))


def word_rows(ids):
    """Word embeddings of `ids`: f32 rows, or Q4_0 rows (ggml blocks of 32) dequantized."""
    if "embeddings.word_embeddings.weight" in W:
        return W["embeddings.word_embeddings.weight"][ids]
    q = W["embeddings.word_embeddings.q4_0"][ids].reshape(len(ids), -1, 18)
    scale = q[:, :, :2].copy().view(np.float16).astype(np.float32)  # [n, blocks, 1]
    nib = q[:, :, 2:]
    lo = (nib & 0x0F).astype(np.int8) - 8
    hi = (nib >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=2).astype(np.float32) * scale
    return vals.reshape(len(ids), -1)


def layer_norm(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + EPS) * g + b


def embed_input(batch):
    """The encoder's input (word + position + type embeddings, LayerNorm) and the mask bias,
    computed in numpy (a table lookup: a negligible share of the time)."""
    t = max(len(s) for s in batch)
    off = cfg.get("pad_token_id", 1) + 1
    x = np.zeros((len(batch), t, H), np.float32)
    bias = np.full((len(batch), 1, 1, t), -10000.0, np.float32)
    for i, s in enumerate(batch):
        x[i, : len(s)] = (
            word_rows(np.array(s))
            + W["embeddings.position_embeddings.weight"][off : off + len(s)]
            + W["embeddings.token_type_embeddings.weight"][0]
        )
        bias[i, 0, 0, : len(s)] = 0.0
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
    return x.astype(np.float32), bias


def build_graph(path):
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], **kw))
        return out

    def dense(x, prefix, out):
        w = const(prefix + ".wT", W[prefix + ".weight"].T.copy())
        b = const(prefix + ".b", W[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, w], out + ".mm"), b], out)

    const("heads_shape", np.array([0, 0, HEADS, D], np.int64))
    const("hidden_shape", np.array([0, 0, H], np.int64))
    const("scale", np.array(1.0 / math.sqrt(D), np.float32))
    const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    const("one", np.array(1.0, np.float32))
    const("half", np.array(0.5, np.float32))
    x = "x"
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        heads = {}
        for part, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3])):
            y = dense(x, p + "attention.self." + part, f"l{i}.{part}")
            y = node("Reshape", [y, "heads_shape"], f"l{i}.{part}.r")
            heads[part] = node("Transpose", [y], f"l{i}.{part}.t", perm=perm)
        s = node("MatMul", [heads["query"], heads["key"]], f"l{i}.s")
        s = node("Mul", [s, "scale"], f"l{i}.ss")
        s = node("Add", [s, "bias"], f"l{i}.sb")
        s = node("Softmax", [s], f"l{i}.p", axis=-1)
        c = node("MatMul", [s, heads["value"]], f"l{i}.c")
        c = node("Transpose", [c], f"l{i}.ct", perm=[0, 2, 1, 3])
        c = node("Reshape", [c, "hidden_shape"], f"l{i}.cr")
        a = dense(c, p + "attention.output.dense", f"l{i}.ao")
        a = node("Add", [a, x], f"l{i}.ar")
        g = const(p + "ln1.g", W[p + "attention.output.LayerNorm.weight"])
        b = const(p + "ln1.b", W[p + "attention.output.LayerNorm.bias"])
        x = node("LayerNormalization", [a, g, b], f"l{i}.ln1", axis=-1, epsilon=EPS)
        f = dense(x, p + "intermediate.dense", f"l{i}.fi")
        # GELU (erf form), the pattern onnxruntime's optimizer fuses into one op.
        e = node("Erf", [node("Div", [f, "sqrt2"], f"l{i}.fd")], f"l{i}.fe")
        f = node("Mul", [node("Mul", [f, node("Add", [e, "one"], f"l{i}.f1")], f"l{i}.fm"), "half"], f"l{i}.gelu")
        o = dense(f, p + "output.dense", f"l{i}.fo")
        o = node("Add", [o, x], f"l{i}.or")
        g = const(p + "ln2.g", W[p + "output.LayerNorm.weight"])
        b = const(p + "ln2.b", W[p + "output.LayerNorm.bias"])
        x = node("LayerNormalization", [o, g, b], f"l{i}.ln2" if i < LAYERS - 1 else "hidden", axis=-1, epsilon=EPS)
    graph = helper.make_graph(
        nodes,
        "encoder",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", H]),
            helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["b", 1, 1, "t"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "t", H])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
tok.no_truncation()
tok.no_padding()
contexts = open(contexts_path, encoding="utf-8").read().splitlines()
prefix = cfg.get("passage_prefix") or "passage: "
seqs = [e.ids for e in tok.encode_batch([prefix + c for c in contexts])]
cut = sum(len(s) > MAX_TOKENS for s in seqs)
seqs = [s if len(s) <= MAX_TOKENS else s[: MAX_TOKENS - 1] + s[-1:] for s in seqs]
tokens = sum(len(s) - 2 for s in seqs)
ours = [np.array(json.loads(l), np.float32) for l in open(ours_path)]

f32_path = os.path.join(work, "encoder-f32.onnx")
int8_path = os.path.join(work, "encoder-int8.onnx")
build_graph(f32_path)
quantize_dynamic(f32_path, int8_path, per_channel=True, weight_type=QuantType.QInt8)

rounds = int(os.environ.get("ROUNDS", "2"))
for name, path in (("int8", int8_path), ("f32", f32_path)):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    best, vectors = None, [None] * len(seqs)
    for _ in range(rounds):
        t0 = time.perf_counter()
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            batch = [seqs[i] for i in idx]
            x, bias = embed_input(batch)
            hidden = sess.run(["hidden"], {"x": x, "bias": bias})[0]
            for row, i in enumerate(idx):
                v = hidden[row, : len(seqs[i])].mean(0)
                vectors[i] = v / np.linalg.norm(v)
        secs = time.perf_counter() - t0
        best = secs if best is None else min(best, secs)
    cos = [float(a @ b) for a, b in zip(vectors, ours)]
    print(json.dumps({
        "engine": "onnxruntime " + ort.__version__,
        "precision": name,
        "threads": 2,
        "passages": len(seqs),
        "passage_tokens": tokens,
        "cut_to_window": cut,
        "passages_per_s": len(seqs) / best,
        "tokens_per_s": tokens / best,
        "min_cosine_to_semsearch": min(cos),
        "mean_cosine_to_semsearch": sum(cos) / len(cos),
    }), flush=True)
