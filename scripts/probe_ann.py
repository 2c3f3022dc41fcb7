#!/usr/bin/env python3
"""Recall@100 and latency of the window table's approximate index at several probe counts.

    python scripts/probe_ann.py --media MEDIA_VAL --library /tmp/libbench/lib-1000000 \\
        [--index IVF_SQ|IVF_PQ] [--probes 32 64 128] [--refine 0 5]

Reads every vector of the library's window table, takes the exact top 100 of 100 real
validation queries with numpy, and compares lance's nearest-neighbour search at each
(probes, refine) setting. --index rebuilds the table's index first (what the README's
IVF-PQ / IVF-SQ comparison ran).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from clipcut import api
from clipcut.config import load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--index", choices=["IVF_SQ", "IVF_PQ"])
    ap.add_argument("--probes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--refine", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    os.environ.setdefault("LANCE_LOG", "error")
    os.environ.setdefault("LANCEDB_LOG", "error")
    folder = args.library / ".clipcut" / "lance"
    if args.index:
        import lancedb

        table = lancedb.connect(str(folder)).open_table("window")
        n = table.count_rows()
        t = time.perf_counter()
        extra = {"num_sub_vectors": 48} if args.index == "IVF_PQ" else {}
        table.create_index(metric="cosine", index_type=args.index, replace=True,
                           num_partitions=max(16, n // 1024), **extra)
        print(f"{args.index} build {time.perf_counter() - t:.1f} s", flush=True)
    import lance

    cfg = load_config()
    qs = [json.loads(line)["query"] for f in sorted(args.media.glob("*.queries.jsonl"))
          for line in f.read_text().splitlines()]
    qs = qs[::max(1, len(qs) // 100)][:100]
    queries = np.stack([api.encode_text(q, cfg)[2].vector for q in qs]).astype(np.float32)
    ds = lance.dataset(str(folder / "window.lance"))
    tbl = ds.to_table(columns=["path", "start", "vector"])
    vecs = tbl["vector"].combine_chunks().flatten().to_numpy().reshape(len(tbl), -1)
    keys = list(zip(tbl["path"].to_pylist(), np.round(tbl["start"].to_numpy(), 3)))
    exact = [{keys[i] for i in np.argpartition(-(vecs @ q), 100)[:100]} for q in queries]
    for probes in args.probes:
        for refine in args.refine:
            hit, lat = 0, []
            for q, ex in zip(queries, exact):
                nearest = {"column": "vector", "q": q, "k": 100, "metric": "cosine",
                           "nprobes": probes, **({"refine_factor": refine} if refine else {})}
                t = time.perf_counter()
                r = ds.to_table(columns=["path", "start", "_distance"], nearest=nearest)
                lat.append(time.perf_counter() - t)
                hit += len(set(zip(r["path"].to_pylist(), np.round(r["start"].to_numpy(), 3))) & ex)
            print(f"rows {len(vecs)} probes {probes} refine {refine}: recall@100 "
                  f"{hit / (100 * len(queries)):.4f}, p50 {1000 * np.percentile(lat, 50):.1f} ms, "
                  f"p95 {1000 * np.percentile(lat, 95):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
