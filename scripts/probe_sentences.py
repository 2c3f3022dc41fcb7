#!/usr/bin/env python3
"""How well sentences made from ASR words line up with the true sentences.

    python scripts/probe_sentences.py --media MEDIA_ASR --captions MEDIA_VAL [--tol 0.5]

MEDIA_ASR holds recordings indexed from speech (their caches keep the timed words);
MEDIA_VAL the same recordings' `.vtt` files, one cue per true sentence. For the sentence
splitting clipcut ships and for variants of it, the share of sentence starts within --tol s
of a true sentence start, the share of sentence ends within --tol of a true end or outside
speech (what `../shared/bench/boundaries.py` asks of clip edges, since clips start and end on
sentences), and the number of sentences against the true count: the splitting before pauses
were measured, and the shipped one at several punctuation pauses. Pauses are measured from
the recording's audio as the index measures them. (A proxy: clips are scored by
`boundaries.py` on a real run.)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from clipcut import cache
from clipcut.config import load_config
from clipcut.index import media, sentences
from clipcut.index.pipeline import make_sentences, measure_pauses
from clipcut.index.transcript import parse_captions
from clipcut.types import Word


def edge_scores(sents, cues, tol: float) -> tuple[float, float]:
    starts = np.array([c[0] for c in cues])
    ends = np.array([c[1] for c in cues])
    good_s = good_e = 0
    for s in sents:
        good_s += bool(np.any(np.abs(starts - s.start) <= tol))
        inside = np.any((starts + tol < s.end) & (s.end < ends - tol))
        good_e += bool(np.any(np.abs(ends - s.end) <= tol) or not inside)
    n = max(len(sents), 1)
    return good_s / n, good_e / n


def asr_sentences(words, fine, pause, cfg):
    """The shipped ASR splitting (``make_sentences``) with another punctuation pause."""
    old = sentences.SENTENCE_PAUSE
    sentences.SENTENCE_PAUSE = pause
    try:
        return make_sentences(words, np.zeros((0, 2)), fine, True, cfg)[1]
    finally:
        sentences.SENTENCE_PAUSE = old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--captions", type=Path, required=True)
    ap.add_argument("--tol", type=float, default=0.5)
    args = ap.parse_args()
    cfg = load_config()
    acfg = cfg.audio
    variants = {
        "punctuation and 0.8 s word gaps (before)": lambda w, p: sentences.split_sentences(
            sentences.align_to_silences(w, p["coarse"], cfg.asr.max_gap),
            max_gap=cfg.asr.max_gap, max_duration=cfg.asr.max_sentence),
    }
    for pause in (0.25, sentences.SENTENCE_PAUSE, 0.45):
        variants[f"measured pauses, punctuation + {pause} s"] = (
            lambda w, p, pause=pause: asr_sentences(w, p["fine"], pause, cfg))
    totals: dict[str, list] = {k: [] for k in variants}
    for video in sorted(args.media.glob("*.mp4")):
        idx = cache.load(cache.sidecar_path(video))
        vtt = args.captions / video.with_suffix(".vtt").name
        if idx is None or not vtt.exists() or not len(idx.word_start):
            continue
        cues = parse_captions(vtt.read_text())
        words = [Word(float(a), float(b), str(t))
                 for a, b, t in zip(idx.word_start, idx.word_end, idx.word_text)]
        pcm = media.load_audio(video, acfg.sample_rate, idx.duration)
        coarse, fine = measure_pauses(pcm, cfg)
        pauses = {"coarse": coarse, "fine": fine}
        for name, fn in variants.items():
            sents = fn(words, pauses)
            s, e = edge_scores(sents, cues, args.tol)
            totals[name].append((len(sents), s, e))
            print(json.dumps({"recording": video.stem, "variant": name, "sentences": len(sents),
                              "true": len(cues), "start_ok": round(s, 3), "end_ok": round(e, 3)}),
                  flush=True)
    for name, rows in totals.items():
        if rows:
            w = np.array([r[0] for r in rows], float)
            print(json.dumps({"variant": name, "sentences": int(w.sum()),
                              "start_ok": round(float(np.average([r[1] for r in rows], weights=w)), 3),
                              "end_ok": round(float(np.average([r[2] for r in rows], weights=w)), 3)}))


if __name__ == "__main__":
    main()
