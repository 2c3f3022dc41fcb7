#!/usr/bin/env python3
"""Rebuild the sentences of speech-indexed caches from the words they keep, without ASR.

    python scripts/resplit.py MEDIA_DIR_OR_FILES...

For tuning how ASR words become sentences: each cache whose transcript came from the ASR and
that keeps its timed words is mended in place as `clipcut index` mends a cache an older
release split (``index.pipeline.upgrade``: sentences made again from the words by the current
code, split where the speaker turns change, embedded with the text model the cache was built
with; a new generation when they changed), but whether or not the splitting's name changed,
so that splitting variants can be compared without bumping it. Transcribing again would give
the same words, so the result is what a full re-index gives, in a minute instead of half an
hour per hour of speech. Caches from captions are left alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clipcut.config import load_config
from clipcut.index.pipeline import (IndexRequest, Reporter, find_upgradable, media_files,
                                    plan, upgrade)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()
    cfg = load_config()
    for video in media_files(args.paths):
        p = plan(video, cfg, IndexRequest())
        found = find_upgradable(video, p) if p.captions == "asr" else None
        if found is None or not len(found[0].word_start):
            print(f"{video}: no speech-indexed cache with words; skipped", file=sys.stderr)
            continue
        t = time.perf_counter()
        idx = found[0]
        new = upgrade(video, p, cfg, IndexRequest(), *found, Reporter()).index
        print(f"{video}: {len(idx.sent_start)} -> {len(new.sent_start)} sentences "
              f"({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
