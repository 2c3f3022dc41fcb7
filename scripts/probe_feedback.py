#!/usr/bin/env python3
"""Pseudo-relevance feedback: how many of the best windows the query vector should move
toward, and how far. A grid scored on the train split (where the default is chosen, each
train meeting ranked by an out-of-fold query encoder) and on qmsum-val (reported beside it).

    python scripts/probe_feedback.py --folds OOF [--feedback 5 10 20] [--weights 0.5 1]

OOF holds fold-K.npz from `train_encoder.py --fold K/5`. Meetings are laid out and embedded
as scripts/train_reranker.py does (its data cache is shared); each annotated query runs
through the real stage 1 and stage 2 (`rank_spans`) with `[query] feedback` and
`feedback_weight` set, and the proxy NDCG@10 of its 40 best spans after overlap removal
(as the real selection) is printed per cell.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train_reranker as tr  # noqa: E402
from train_encoder import fold_encoders, meeting_layout  # noqa: E402

from clipcut import models  # noqa: E402
from clipcut.api import _encoder  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.query.pipeline import rank_spans  # noqa: E402


def candidates(idx, q, opt, gt, top: int) -> dict:
    ranked = sorted(rank_spans(idx, q, opt, None), key=lambda r: -r.score)[:top]
    return {"cands": [{"start": r.start, "end": r.end,
                       "gain": tr.span_gain(r.start, r.end, gt)}
                      for r in ranked]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=Path, required=True)
    ap.add_argument("--feedback", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--every", type=int, default=1, help="every N-th train meeting")
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "clipcut-rerank")
    args = ap.parse_args()
    cfg = load_config()
    bm = tr.bench_text_tools(tr.BENCH)
    tmodel, shipped = models.load_text_model(""), _encoder(cfg, "")
    folds = fold_encoders(args.folds, shipped.model, cfg)
    cells = [(0, 0.0)] + [(k, w) for k in args.feedback for w in args.weights]
    opts = [cfg.with_section("query", feedback=k, feedback_weight=w).query for k, w in cells]
    for split in ("train", "val"):
        files = sorted((tr.BENCH / f"qmsum-{split}").glob("*.json"))
        runs = [[] for _ in cells]
        t0 = time.time()
        for m, f in enumerate(files):
            if split == "train" and m % args.every:
                continue
            encoder = folds[m % len(folds)] if split == "train" else shipped
            lay = meeting_layout(f, bm)
            idx = tr.layout_index(f.stem, lay, tmodel, cfg, args.data / "meetings")
            for qd in lay["queries"]:
                q = encoder.encode(qd["text"], visual_on=False)
                gt = tr.SCORE.merge(qd["gt"])
                for run, opt in zip(runs, opts):
                    run.append(candidates(idx, q, opt, gt, 40))
        print(f"{split} ({len(runs[0])} queries, {time.time() - t0:.0f} s)", flush=True)
        for (k, w), run in zip(cells, runs):
            score = tr.proxy_ndcg(run, [-np.arange(len(c["cands"]), dtype=float) for c in run])
            print(f"  feedback {k:>3} weight {w:4.2f}: proxy NDCG@10 {score:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
