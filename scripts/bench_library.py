#!/usr/bin/env python3
"""Library scale benchmark: 10K, 100K and 1M window rows built through the library API.

    python scripts/bench_library.py --media MEDIA_VAL --out /big/disk/libbench [--sizes 10000 100000 1000000]

MEDIA_VAL holds the indexed validation meetings (`clipcut index MEDIA_VAL`). Their real
window embeddings (through the shipped text adapter, as the library stores them) are
replicated under distinct recording ids with small noise: replica r of meeting M is
``rNNN/M.mp4``, a hard link to the meeting and to its sidecar, so its cache is current
(content decides) and stage 2 of a real `clipcut query` can load it. For each size:
build time (rows, then the ANN index), disk size, open time, peak memory of a query
process, recall@100 of the ANN stage against exact search for 100 real validation queries,
stage-1 latency p50/p95 in-process, the whole `clipcut query LIB --no-cut --json` command,
and adding one more long recording with `clipcut index FILE` once its sidecar exists.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from clipcut import api, cache
from clipcut.config import load_config
from clipcut.library import catalog
from clipcut.library.store import Recording, Rows

NOISE = 0.01   # per-dimension noise of a replica (cosine to its original ~0.98)
CLIPCUT = [sys.executable, "-m", "clipcut"]


def meetings(media: Path, adapt) -> list[dict]:
    out = []
    for video in sorted(media.glob("*.mp4")):
        idx = cache.load(cache.sidecar_path(video))
        if idx is None:
            continue
        keep = np.linalg.norm(idx.win_text, axis=1) > 0
        out.append({"video": video, "idx_meta": idx.meta, "start": idx.windows[keep, 0],
                    "end": idx.windows[keep, 1], "vec": adapt(idx.win_text[keep])})
    return out


def queries(media: Path, n: int) -> list[str]:
    qs = [json.loads(line)["query"] for f in sorted(media.glob("*.queries.jsonl"))
          for line in f.read_text().splitlines()]
    step = max(1, len(qs) // n)
    return qs[::step][:n]


def link(video: Path, dst: Path) -> None:
    """Hard links of a recording, its captions and its sidecar under another name."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.link(video, dst)
    os.link(video.with_suffix(".vtt"), dst.with_suffix(".vtt"))
    os.link(cache.sidecar_path(video), cache.sidecar_path(dst))


def replica(lib: Path, r: int, m: dict) -> str:
    """Meeting ``m`` hard-linked as replica ``r``; its library path."""
    rel = f"r{r:03d}/{m['video'].name}"
    if not (lib / rel).exists():
        link(m["video"], lib / rel)
    return rel


def build(lib: Path, ms: list[dict], rows: int, fit: dict, rng) -> tuple[float, float, np.ndarray]:
    """Fill the library to ``rows`` window rows; (insert s, index s, all vectors)."""
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    folder = lib / catalog.DIRNAME
    folder.mkdir()
    library = catalog.Library(lib, "bench", "lancedb", "", fit)
    library.save()
    store = library.open_store(write=True)
    empty = Rows(np.zeros(0), np.zeros(0), np.zeros((0, fit["dim"]), np.float32))
    vecs, batch, total, r = [], [], 0, 0
    t = time.perf_counter()
    while total < rows:
        for m in ms:
            if total >= rows:
                break
            v = m["vec"] + rng.normal(0, NOISE, m["vec"].shape).astype(np.float32) if r else m["vec"]
            v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
            take = min(len(v), rows - total)
            rel = replica(lib, r, m)
            meta = m["idx_meta"]
            rec = Recording(rel, meta["generation"], meta["source"]["sha256"],
                            float(meta["duration"]), float(meta.get("created") or 0), take, 0)
            batch.append((rec, Rows(m["start"][:take], m["end"][:take], v[:take]), empty))
            vecs.append(v[:take])
            total += take
            if len(batch) == 200:
                store.replace(batch)
                batch = []
        r += 1
    store.replace(batch)
    t_insert = time.perf_counter() - t
    t = time.perf_counter()
    store.optimize(load_config().library.index_rows)
    t_index = time.perf_counter() - t
    store.close()
    return t_insert, t_index, np.concatenate(vecs)


def child_stats(lib: Path, fit: dict, qvecs: np.ndarray, k: int) -> dict:
    """Open time, stage-1 latency and peak memory, measured in a fresh process."""
    code = f"""
import json, sys, time
import numpy as np
from pathlib import Path
t = time.perf_counter()
from clipcut.library import catalog, lance, search as lsearch
lance.QUICK_IMPORT = True  # as the CLI reads
lib = catalog.Library(Path({str(lib)!r}), "bench", "lancedb", "", {fit!r})
store = lib.open_store()
store.rows("window")
opened = time.perf_counter() - t
q = np.load(sys.argv[1])
lat = []
for v in q:
    t = time.perf_counter()
    lsearch.candidates(store, v, {k}, None, False)
    lat.append(time.perf_counter() - t)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({{"open": opened, "lat": lat, "rss_mb": int(hwm.split()[1]) / 1024}}))
"""
    qfile = lib / "queries.npy"
    np.save(qfile, qvecs)
    out = subprocess.run([sys.executable, "-c", code, str(qfile)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def recall(lib: Path, fit: dict, vecs: np.ndarray, keys: list, qvecs: np.ndarray, k: int) -> float:
    """Share of the exact top-k windows (numpy over every vector) that the ANN stage returned."""
    store = catalog.Library(lib, "bench", "lancedb", "", fit).open_store()
    got = []
    for v in qvecs:
        hits = store.search("window", v, k)
        got.append({(h.path, round(h.start, 3)) for h in hits})
    store.close()
    hit = 0
    for v, g in zip(qvecs, got):
        top = np.argpartition(-(vecs @ v), k)[:k]
        hit += sum((keys[i][0], round(keys[i][1], 3)) in g for i in top)
    return hit / (k * len(qvecs))


def timed(cmd: list[str]) -> float:
    return measured(cmd)[0]


# Runs a command and prints its wall time and peak memory. A wrapper, because a child forked
# from this (large) process inherits its memory high-water mark across exec.
MEASURE = """import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
usage = os.wait4(p.pid, 0)[2]
print(time.perf_counter() - t, usage.ru_maxrss / 1024)"""


def measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak memory in MB) of one command."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--commands", type=int, default=10, help="whole commands timed per size")
    ap.add_argument("-k", type=int, default=100)
    args = ap.parse_args()
    cfg = load_config()
    fit, adapt = api.vector_fit(cfg)
    ms = meetings(args.media, adapt)
    qs = queries(args.media, args.queries)
    qvecs = np.stack([api.encode_text(q, cfg)[2].vector for q in qs])
    # the recording added at the end: the meeting closest to 90 minutes
    longest = min(ms, key=lambda m: abs(m["idx_meta"]["duration"] - 5400))
    print(f"{len(ms)} meetings, {sum(len(m['vec']) for m in ms)} windows; {len(qs)} queries",
          file=sys.stderr)
    for size in args.sizes:
        lib = args.out / f"lib-{size}"
        rng = np.random.default_rng(0)
        t_insert, t_index, vecs = build(lib, ms, size, fit, rng)
        stats = child_stats(lib, fit, qvecs, args.k)
        rec = recall(lib, fit, vecs, window_keys(ms, size), qvecs, args.k)
        runs = [measured([*CLIPCUT, "query", str(lib), q, "--no-cut", "--json"])
                for q in qs[:args.commands]]
        cmd = [r[0] for r in runs]
        # one more long recording, its sidecar already there: `clipcut index FILE` adds it
        extra = lib / "new" / ("extra-" + longest["video"].name)
        link(longest["video"], extra)
        add = timed([*CLIPCUT, "index", str(extra)])
        lat = np.array(stats["lat"]) * 1000
        row = {"rows": size, "insert_s": round(t_insert, 1), "index_s": round(t_index, 1),
               "disk_mb": round(sum(f.stat().st_size for f in (lib / ".clipcut").rglob("*")
                                    if f.is_file()) / 1e6, 1),
               "open_s": round(stats["open"], 3), "rss_mb": round(stats["rss_mb"]),
               "command_rss_mb": round(max(r[1] for r in runs)),
               "recall@100": round(rec, 4),
               "stage1_p50_ms": round(float(np.percentile(lat, 50)), 1),
               "stage1_p95_ms": round(float(np.percentile(lat, 95)), 1),
               "command_p50_s": round(float(np.percentile(cmd, 50)), 2),
               "command_max_s": round(max(cmd), 2),
               "add_90min_s": round(add, 2), "added_minutes": round(longest["idx_meta"]["duration"] / 60, 1)}
        print(json.dumps(row), flush=True)
    return 0


def window_keys(ms: list[dict], rows: int) -> list[tuple[str, float]]:
    """(path, start) of every window row, in the order ``build`` wrote the vectors."""
    keys, total, r = [], 0, 0
    while total < rows:
        for m in ms:
            if total >= rows:
                break
            take = min(len(m["start"]), rows - total)
            rel = f"r{r:03d}/{m['video'].name}"
            keys += [(rel, float(s)) for s in m["start"][:take]]
            total += take
        r += 1
    return keys


if __name__ == "__main__":
    sys.exit(main())
