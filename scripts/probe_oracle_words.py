#!/usr/bin/env python3
"""Where speech loses to captions: the ASR's words put right by the captions (issue 12).

    python scripts/probe_oracle_words.py SPEECH CAPTIONS OUT [--fix]
    python scripts/bench_eval.py --media OUT --all --out run.jsonl

SPEECH holds the caches of recordings indexed from speech, CAPTIONS the caches of the same
recordings indexed from their captions (current caches: an outdated one would be made
again by the query, undoing the change). Each recording's ASR words are aligned with the
caption words (difflib, on lower-cased letters and digits); every ASR word the alignment
does not match is left out of its sentence's text (``--fix``: a run of wrong ASR words is
replaced by the caption words in its place), the sentence times and everything else are
kept, and the sentences and windows are embedded again into OUT (the videos, queries and
timings hard-linked). Ranking OUT shows what perfect words would give on the ASR's own
sentences and turns; the rest of the gap to captions is sentences, turns and times.
"""
from __future__ import annotations

import argparse
import difflib
import re
from pathlib import Path

import numpy as np

from clipcut import cache, models
from clipcut.config import load_config
from clipcut.index.pipeline import text_arrays
from clipcut.types import Sentence


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("speech", type=Path)
    ap.add_argument("captions", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--fix", action="store_true")
    args = ap.parse_args()
    cfg = load_config()
    tmodel = models.load_text_model(cfg.text.model)
    args.out.mkdir(exist_ok=True)
    kept_all = total = 0
    for npz in sorted(args.speech.glob("*.clipcut.npz")):
        name = npz.name.split(".")[0]
        for ext in (".mp4", ".queries.jsonl", ".timing.json"):
            if (args.speech / (name + ext)).exists() and not (args.out / (name + ext)).exists():
                (args.out / (name + ext)).hardlink_to(args.speech / (name + ext))
        idx, cap = cache.load(npz), cache.load(args.captions / npz.name)
        asr = [_norm(w) for w in idx.word_text]
        ops = difflib.SequenceMatcher(None, asr, [_norm(w) for w in cap.word_text],
                                      autojunk=False).get_opcodes()
        keep = np.zeros(len(asr), bool)
        words = list(idx.word_text)
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                keep[i1:i2] = True
            elif tag == "replace" and args.fix:
                words[i1], keep[i1] = " ".join(cap.word_text[j1:j2]), True
        kept_all, total = kept_all + int(keep.sum()), total + len(asr)
        mid = (idx.word_start + idx.word_end) / 2
        sents = []
        for a, b, text in zip(idx.sent_start, idx.sent_end, idx.sent_text):
            inside = np.flatnonzero((mid >= a) & (mid <= b))
            sents.append(Sentence(float(a), float(b),
                                  " ".join(words[i] for i in inside if keep[i]) or str(text)))
        cache.save(args.out / npz.name, idx.meta,
                   {**idx.arrays, **text_arrays(sents, idx.duration, tmodel, cfg)})
        print(f"{name}: {int(keep.sum())} of {len(asr)} ASR words kept", flush=True)
    print(f"all: {kept_all / max(total, 1):.3f} of the ASR words kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
