#!/usr/bin/env python3
"""Rebuild the sentences of speech-indexed caches from the words they keep, without ASR.

    python scripts/resplit.py MEDIA_DIR_OR_FILES...

For tuning how ASR words become sentences: each cache whose transcript came from the ASR and
that keeps its timed words gets its sentences and windows rebuilt by the current code
(``index.pipeline.make_sentences``, split where the cache's speaker turns change, and
``text_arrays`` with the text model the cache was built with, as `clipcut index` runs them;
each sentence's speaker labelled again) and is
rewritten as a current cache of the current code, with a new generation. Transcribing again
would give the same words, so the result is what a full re-index gives, in a minute instead
of half an hour per hour of speech. Caches from captions are left alone.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from clipcut import cache, models
from clipcut.config import load_config
from clipcut.index import audio, media
from clipcut.index import speakers
from clipcut.index.pipeline import (IndexRequest, make_sentences, media_files, plan,
                                    speaker_arrays, text_arrays)
from clipcut.index.sentences import ALIGN_PAUSE
from clipcut.types import Word


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()
    cfg = load_config()
    # the text model the cache was built with (both are loaded once, when first needed)
    tmodels = {"minilm": lambda: models.load_text_model(cfg.text.model),
               "e5": models.load_multilingual_text_model}
    for video in media_files(args.paths):
        path = cache.sidecar_path(video)
        idx = cache.load(path)
        if idx is None or idx.meta.get("captions") != "asr" or not len(idx.word_start):
            print(f"{video}: no speech-indexed cache with words; skipped", file=sys.stderr)
            continue
        t = time.perf_counter()
        p = plan(video, cfg, IndexRequest())
        words = [Word(float(a), float(b), str(w))
                 for a, b, w in zip(idx.word_start, idx.word_end, idx.word_text)]
        pauses = idx.pauses
        if not len(pauses):
            pcm = media.load_audio(video, cfg.audio.sample_rate, idx.duration)
            pauses = audio.pause_maps(pcm, cfg.audio, ALIGN_PAUSE)[1]
        words, sents = make_sentences(words, idx.silences, pauses, True, cfg,
                                      idx.meta.get("language", "en"))
        # then split where the cache's speaker turns change, as the index does
        turns = [speakers.Turn(float(a), float(b), str(s))
                 for (a, b), s in zip(idx.turns.reshape(-1, 2), idx.turn_speaker)]
        if turns:
            sents = speakers.split_at_turns(sents, words, turns, pauses)
        model = tmodels[idx.meta.get("text_encoder", "minilm")]()
        arrays = {**idx.arrays, **text_arrays(sents, idx.duration, model, cfg),
                  "pauses": pauses,
                  "word_start": np.array([w.start for w in words], np.float64),
                  "word_end": np.array([w.end for w in words], np.float64),
                  "word_text": np.array([w.text for w in words], dtype=np.str_).reshape(-1)}
        arrays.update(speaker_arrays(turns, arrays["sent_start"], arrays["sent_end"]))
        meta = {**idx.meta, **{k: v for k, v in p.expected.items() if k != "models"},
                "models": {**idx.meta["models"], "transcript": p.expected["models"]["transcript"]},
                "generation": uuid.uuid4().hex}
        cache.save(path, meta, arrays)
        print(f"{video}: {len(idx.sent_start)} -> {len(sents)} sentences "
              f"({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
