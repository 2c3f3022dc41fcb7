#!/usr/bin/env python3
"""How much the surrounding discussion should add to a span's score: a grid over the radius
and the weight of stage 2's region term, scored on the train split (where the defaults were
chosen) and on qmsum-val (reported beside it).

    python scripts/probe_region.py [--radii 120 240 360 480] [--weights 1 2 4 6]

Candidates are those of scripts/train_reranker.py's data stage (the real stage 1 and stage 2
on laid-out meetings, 40 best spans per annotated query) computed with the term off; each
span then gains weight x (mean similarity of the sentences within radius s of its centre
minus the meeting's mean), and the proxy NDCG@10 (overlap removal as in the real selection)
of the new order is printed. Shares train_reranker.py's data cache.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train_reranker as tr  # noqa: E402

from clipcut import models  # noqa: E402
from clipcut.api import _encoder  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.query.pipeline import _region_mean  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--radii", type=float, nargs="+", default=[120, 240, 360, 480])
    ap.add_argument("--weights", type=float, nargs="+", default=[1, 2, 4, 6])
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "clipcut-rerank")
    args = ap.parse_args()
    cfg = load_config().with_section("query", region_weight=0.0)
    bm = tr.bench_text_tools(tr.BENCH)
    tmodel, encoder = models.load_text_model(""), _encoder(cfg, "")
    opts = SimpleNamespace(data=args.data, top=40)
    for split in ("train", "val"):
        files = sorted((tr.BENCH / f"qmsum-{split}").glob("*.json"))
        data = tr.cached_split(files, opts, bm, cfg, encoder, tmodel)
        qs = data["queries"]
        mids = {}
        for m in data["meetings"]:
            with np.load(args.data / "meetings" / f"{m}.npz") as z:
                mids[m] = (z["sent_start"] + z["sent_end"]) / 2
        base = tr.proxy_ndcg(qs, [np.array([c["score"] for c in q["cands"]]) for q in qs])
        print(f"{split} ({len(qs)} queries): proxy NDCG@10 without the term {base:.4f}")
        print("radius \\ weight " + " ".join(f"{w:>7g}" for w in args.weights))
        for radius in args.radii:
            terms = []  # per query: each candidate's term before the weight
            for q in qs:
                around = _region_mean(q["sims"], mids[q["meeting"]], radius)
                mean = float(np.mean(q["sims"]))
                terms.append(np.array([around((c["start"] + c["end"]) / 2) - mean
                                       for c in q["cands"]]))
            row = [tr.proxy_ndcg(qs, [np.array([c["score"] for c in q["cands"]]) + w * t
                                      for q, t in zip(qs, terms)]) for w in args.weights]
            print(f"{radius:>6g} s         " + " ".join(f"{v:7.4f}" for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
