#!/usr/bin/env python3
"""Score clipcut on the QMSum benchmark in-process (models loaded once), for fast tuning.

    python scripts/bench_eval.py --media /path/to/media --out run.jsonl [--set query.context=2 ...]
    python scripts/bench_eval.py --media train-media --folds OOF --out run.jsonl   # train meetings

Writes a run file in score.py's format and prints score.py's evaluation of it (next to any
--baselines given). The official figures in README come from `score.py run-cmd` over the
real command line; this script calls the same `clipcut.search()` in one process (models
loaded once), so it gives the same clips in seconds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from clipcut import api
from clipcut.config import load_config

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


def parse_value(v: str):
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def apply_overrides(cfg, items: list[str]):
    """``section.key=value`` strings (JSON values; lists become tuples) applied to ``cfg``."""
    for item in items:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        value = parse_value(value)
        if isinstance(value, list):
            value = tuple(value)
        cfg = cfg.with_section(section, **{name: value})
    return cfg


def fold_weights(folds: Path, train: Path) -> dict[str, str]:
    """Each train meeting's out-of-fold query encoder: ``train_encoder.py --fold K/N`` wrote
    ``folds``/fold-K.npz, trained without the meetings whose sorted position in ``train`` is
    K modulo N, so that train meetings are ranked as new ones."""
    n = len(list(folds.glob("fold-*.npz")))
    if n == 0:
        raise SystemExit(f"--folds {folds}: no fold-K.npz; run train_encoder.py --fold K/N first")
    names = sorted(p.stem for p in train.glob("*.json"))
    return {name: str(folds / f"fold-{i % n}.npz") for i, name in enumerate(names)}


def run_queries(media: Path, cfg, n: int = 10, corpus: bool = False,
                keep_weak: bool = False, encoders: dict[str, str] | None = None) -> list[dict]:
    """score.py run lines for every query file in ``media``; ``corpus``: each query asked of
    the whole folder (its library when it has one), clips naming their recording;
    ``encoders``: meeting -> query encoder weights (``fold_weights``)."""
    rows = []
    for qf in sorted(media.glob("*.queries.jsonl")):
        video = media / qf.name.replace(".queries.jsonl", ".mp4")
        for line in qf.read_text().splitlines():
            q = json.loads(line)
            if encoders is not None and q["meeting"] not in encoders:
                raise SystemExit(f"--folds: {q['meeting']} is not a train meeting")
            asked = cfg.with_section("query", encoder_weights=encoders[q["meeting"]]) \
                if encoders is not None else cfg
            clips = api.search(media if corpus else video, q["query"], asked, n,
                               keep_weak=keep_weak).clips
            rows.append({"meeting": q["meeting"], "qid": q["qid"],
                         "clips": [{"start": c.start, "end": c.end, "score": c.score,
                                    "video": c.video} for c in clips]})
    return rows


def with_text_delta(delta: Path, cfg) -> None:
    """Rank every recording with its sentences and windows embedded again, as the index
    embeds them (``index.pipeline.text_arrays``), by the packaged MiniLM plus a low-rank
    delta (``scripts/train_segment.py``'s output): W += B @ A."""
    import dataclasses

    import numpy as np
    import torch

    from clipcut import models
    from clipcut.index.pipeline import text_arrays
    from clipcut.types import Sentence

    model = models.load_text_model("")
    d = np.load(delta)
    state = model[0].auto_model.state_dict()
    with torch.no_grad():
        for key in d.files:
            if key.endswith(".A"):
                name = key[:-2]
                state[name + ".weight"] += torch.from_numpy(d[name + ".B"] @ d[name + ".A"])
    model[0].auto_model.load_state_dict(state)
    build, memo = api.index_video, {}

    def index_video(video, cfg_, req=api.IndexRequest(), reporter=None):
        res = build(video, cfg_, req, reporter)
        if str(video) not in memo:
            idx = res.index
            sents = [Sentence(float(a), float(b), str(t))
                     for a, b, t in zip(idx.sent_start, idx.sent_end, idx.sent_text)]
            new = text_arrays(sents, idx.duration, model, cfg)
            arrays = dict(idx.arrays, sent_emb=new["sent_emb"], win_text=new["win_text"])
            memo[str(video)] = dataclasses.replace(
                res, index=dataclasses.replace(idx, arrays=arrays))
        return memo[str(video)]

    api.index_video = index_video


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--set", action="append", default=[], help="section.key=value override")
    ap.add_argument("--baselines", nargs="*", type=Path, default=[])
    ap.add_argument("--bench", type=Path, default=BENCH)
    ap.add_argument("--corpus", action="store_true", help="ask every query of the whole folder")
    ap.add_argument("--all", action="store_true", help="keep clips under the confidence floor")
    ap.add_argument("--folds", type=Path, help="train meetings: rank each with its "
                    "out-of-fold query encoder from this folder (train_encoder.py --fold K/5)")
    ap.add_argument("--text-delta", type=Path, help="re-embed sentences and windows with the "
                    "packaged MiniLM plus this delta (scripts/train_segment.py --out)")
    args = ap.parse_args()

    cfg = apply_overrides(load_config(), args.set)
    if args.text_delta:
        with_text_delta(args.text_delta, cfg)
    qfiles = sorted(args.media.glob("*.queries.jsonl"))
    t0 = time.time()
    encoders = fold_weights(args.folds, args.bench / "qmsum-train") if args.folds else None
    rows = run_queries(args.media, cfg, args.n, args.corpus, args.all, encoders)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} queries in {time.time() - t0:.1f} s", file=sys.stderr)
    subprocess.run([sys.executable, str(args.bench / "score.py"), "eval", "--queries",
                    *map(str, qfiles), "--runs", *map(str, args.baselines), str(args.out)],
                   check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
