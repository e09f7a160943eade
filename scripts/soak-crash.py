"""Crash soak: `semsearch serve` under a writer that adds, replaces and deletes documents, killed
with SIGKILL at random moments and restarted, again and again. After every restart it checks
that the index opens, that every acknowledged write is fully there (all its passages, found by
the document list, by lexical search and by dense search) and every acknowledged delete fully
gone, and that a write in flight at the kill is either wholly there or wholly absent.

Where each kill landed is read from the server's phase events (`semsearch::phase` at debug:
embed, save and merge, each a start/end pair) and counted at the end.

With BACKUPS=N it kills nothing: it takes N backups (`semsearch backup`, another process) of
the serving index under the same writer, serves each backup on its own and checks it the same
way: every document as acknowledged before the backup began, or as a write sent while it ran.

With COLLECTION=NAME all of it runs in collection NAME instead of `default`.

usage: soak-crash.py BIN MODEL_DIR WORK_DIR KILLS
"""
import json, os, random, signal, socket, subprocess, sys, threading, time, urllib.request, urllib.error

BIN, MODEL, WORK, KILLS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
INDEX = os.path.join(WORK, "idx")
rng = random.Random(int(os.environ.get("SEED", "7")))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(base, method, path, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


LOG = os.path.join(WORK, "serve.log")
# COLLECTION=NAME runs the soak in that collection (made on the first start) instead of
# `default`: the same write path, under /collections/NAME/.
COLLECTION = os.environ.get("COLLECTION", "")


def collection_prefix(base):
    if not COLLECTION:
        return ""
    st, body = call(base, "GET", "/collections")
    if COLLECTION not in [c["name"] for c in body["collections"]]:
        st, body = call(base, "POST", "/collections", {"name": COLLECTION})
        if st != 201:
            sys.exit(f"soak: could not make collection {COLLECTION}: {st} {body}")
        print(f"soak: writing to collection {COLLECTION} (/collections/{COLLECTION}/)", flush=True)
    return f"/collections/{COLLECTION}"


def start(index=None, log_path=None):
    index, log_path = index or INDEX, log_path or LOG
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(log_path, "wb")  # one server's log: read after its kill
    env = dict(os.environ, RUST_LOG="warn,semsearch::phase=debug", NO_COLOR="1")
    p = subprocess.Popen([BIN, "--model", MODEL, "serve", "--index", index, "--addr", f"127.0.0.1:{port}"],
                         stdout=log, stderr=log, env=env)
    for _ in range(600):
        try:
            if call(base, "GET", "/healthz", timeout=2)[0] == 200:
                return p, base + collection_prefix(base)
        except OSError:
            pass
        if p.poll() is not None:
            sys.exit(f"soak: the server exited at start (code {p.returncode}); see {log_path}")
        time.sleep(0.05)
    sys.exit("soak: the server did not become healthy")


def text_of(doc, version, lines):
    # One token unique to this document version on every line: lexical search counts passages.
    tok = f"zq{doc}v{version}"
    return "\n".join(f"{tok} line {i} of the lake plan." for i in range(lines))


# doc -> (version, lines) acknowledged; None = acknowledged delete.
acked = {}
acks = [0]  # acknowledged writes in all
inflight = {}  # doc -> (version, lines) or None, sent but not answered
during = None  # while a backup runs: doc -> every op sent meanwhile
lock = threading.Lock()


def writer(base, stop):
    version = 0
    while not stop.is_set():
        version += 1
        doc = rng.randrange(12)
        with lock:
            present = acked.get(doc) is not None
        if present and rng.random() < 0.3:
            op = None
        else:
            # Mostly small documents; now and then a large one, whose embedding takes long
            # enough for kills to land in it.
            op = (version, rng.randint(40, 90) if rng.random() < 0.15 else rng.randint(1, 4))
        with lock:
            inflight[doc] = op
            if during is not None:
                during.setdefault(doc, []).append(op)
        try:
            if op is None:
                st, body = call(base, "DELETE", f"/documents/d{doc}")
                ok = st == 200
            else:
                st, body = call(base, "POST", "/documents",
                                {"doc": f"d{doc}", "text": text_of(doc, *op), "clean": False})
                ok = st == 201 and body["passages"] == op[1]
        except OSError:
            return  # the server died: this write stays in flight
        with lock:
            inflight.pop(doc, None)
            if not ok:
                sys.exit(f"soak: write answered {st} {body}")
            acked[doc] = op
            acks[0] += 1


def state_of(base, docs, doc):
    """What the index holds for `doc`: None, or (version, lines) when consistent; raises if half."""
    n = docs.get(f"d{doc}")
    if n is None:
        return None
    versions = set()
    st, dense = call(base, "POST", "/search", {"query": "lake plan", "mode": "dense", "k": 100,
                                               "filter": {"doc": f"d{doc}"}})
    for r in dense["results"]:
        versions.add(r["text"].split()[0])
    if len(versions) != 1 or len(dense["results"]) != n:
        raise AssertionError(f"d{doc}: {n} passages listed, dense finds {len(dense['results'])} of versions {versions}")
    tok = versions.pop()
    st, lex = call(base, "GET", f"/search?q={tok}&mode=lexical&k=100&doc=d{doc}")
    if len(lex["results"]) != n:
        raise AssertionError(f"d{doc}: {n} passages listed, lexical finds {len(lex['results'])}")
    return (int(tok.split("v")[1]), n)


def check(base):
    st, body = call(base, "GET", "/documents")
    docs = {d["doc"]: d["passages"] for d in body["documents"]}
    for doc in range(12):
        got = state_of(base, docs, doc)
        want = acked.get(doc)
        allowed = [want] + ([inflight[doc]] if doc in inflight else [])
        if got not in allowed:
            raise AssertionError(f"d{doc}: index holds {got}, acknowledged {want}, in flight {inflight.get(doc, '-')}")
        acked[doc] = got
    inflight.clear()


def phases_open():
    """Phases started and not ended in the killed server's log."""
    open_ = {}
    with open(LOG, errors="replace") as f:
        for line in f:
            for phase in ("embed", "save", "merge"):
                if f"{phase} start" in line:
                    open_[phase] = open_.get(phase, 0) + 1
                elif f"{phase} end" in line:
                    open_[phase] = max(open_.get(phase, 0) - 1, 0)
    return sorted(p for p, n in open_.items() if n > 0)


def check_backups(n):
    """n backups of the serving index under the writer, each served and checked."""
    global during
    server, base = start()
    check(base)
    stop = threading.Event()
    w = threading.Thread(target=writer, args=(base, stop), daemon=True)
    w.start()
    t0 = time.time()
    for i in range(n):
        time.sleep(rng.uniform(0.2, 1.0))
        out = os.path.join(WORK, f"backup-{i}")
        with lock:
            before = dict(acked)
            during = {d: [op] for d, op in inflight.items()}
        r = subprocess.run([BIN, "backup", "--index", INDEX, out], capture_output=True, text=True)
        with lock:
            sent, during = during, None
        if r.returncode != 0:
            sys.exit(f"soak: backup {i} failed: {r.stderr}")
        info = json.loads(r.stdout)
        if not w.is_alive():
            sys.exit("soak: the writer stopped")
        copy, copy_base = start(out, os.path.join(WORK, "backup.log"))
        st, body = call(copy_base, "GET", "/documents")
        docs = {d["doc"]: d["passages"] for d in body["documents"]}
        for doc in range(12):
            got = state_of(copy_base, docs, doc)
            allowed = [before.get(doc)] + sent.get(doc, [])
            if got not in allowed:
                sys.exit(f"soak: backup {i}: d{doc} holds {got}, acknowledged before it {before.get(doc)}, "
                         f"sent during it {sent.get(doc, [])}")
        copy.send_signal(signal.SIGTERM)
        copy.wait()
        segments = sum(1 for f in os.listdir(out) if f.startswith("seg-"))
        subprocess.run(["rm", "-rf", out], check=True)
        print(f"backup {i + 1}/{n}: generation {info['generation']}, {info['documents']} documents, "
              f"{segments} segments; {acks[0]} writes acknowledged so far; checked", flush=True)
    stop.set()
    w.join(timeout=70)
    server.send_signal(signal.SIGTERM)
    server.wait()
    with open(LOG, errors="replace") as f:
        merges = sum(1 for line in f if "merge start" in line)
    print(f"backup soak ok: {n} backups under a writer ({acks[0]} acknowledged writes, {merges} merges) "
          f"in {time.time() - t0:.0f} s; each held every write acknowledged before it began")


os.makedirs(WORK, exist_ok=True)
if int(os.environ.get("BACKUPS", "0")) > 0:
    check_backups(int(os.environ["BACKUPS"]))
    sys.exit(0)
landed = {"embed": 0, "save": 0, "merge": 0, "idle": 0}
kills = 0
t0 = time.time()
while kills < KILLS:
    server, base = start()
    check(base)
    stop = threading.Event()
    w = threading.Thread(target=writer, args=(base, stop), daemon=True)
    w.start()
    # Kill at a random moment after the round's first acknowledged write (a restarted server's
    # first write also opens the lexical writer), so that kills land inside later writes.
    before = acks[0]
    deadline = time.time() + 120
    while acks[0] == before and w.is_alive() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 1.0))
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    w.join(timeout=70)
    kills += 1
    where = phases_open()
    for p in where or ["idle"]:
        landed[p] += 1
    print(f"kill {kills}/{KILLS} during {'+'.join(where) or 'idle'}: {acks[0]} writes acknowledged "
          f"so far, {sum(1 for v in acked.values() if v)} documents present", flush=True)
server, base = start()
check(base)
server.send_signal(signal.SIGKILL)
server.wait()
print(f"soak ok: {KILLS} kills, {acks[0]} acknowledged writes in {time.time() - t0:.0f} s; "
      "every acknowledged write intact after each restart; kills landed during: "
      + ", ".join(f"{p} {n}" for p, n in landed.items()))
