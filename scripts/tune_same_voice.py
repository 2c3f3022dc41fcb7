#!/usr/bin/env python3
"""Choose speakers.SAME_VOICE (two clusters whose mean voices are closer than this are one
speaker) on training meetings: DER for each value of a grid, from voice vectors computed once.

    python3 ../shared/bench/build_media.py ../shared/bench/qmsum-train/ES2003c.json ... \
        --out media-train-diar --max-minutes 40
    python scripts/tune_same_voice.py media-train-diar --grid 0.95,0.96,0.97,0.98
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_diarization import der, reference  # noqa: E402

from clipcut import models  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.index import media, pipeline, speakers  # noqa: E402


def pieces_of(video: Path, duration: float, cfg, encoder, work: Path):
    """The recording's speech pieces and their voice vectors (kept in ``work``)."""
    path = work / f"{video.stem}.voices.npz"
    if not path.exists():
        pcm = media.load_audio(video, 16000, duration)
        _, pauses = pipeline.measure_pauses(pcm, cfg)
        pieces = speakers.speech_pieces(duration, pauses)
        emb = speakers.piece_embeddings(pcm, 16000, pieces, encoder)
        np.savez(path, pieces=np.array(pieces).reshape(-1, 2), emb=emb)
    data = np.load(path)
    return [tuple(p) for p in data["pieces"].tolist()], data["emb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("media", type=Path)
    ap.add_argument("--grid", default="0.94,0.95,0.96,0.97,0.98")
    ap.add_argument("--work", type=Path, default=Path("voices-work"))
    args = ap.parse_args()
    args.work.mkdir(exist_ok=True)
    cfg = load_config(None)
    encoder = models.load_voice_encoder()
    grid = [float(g) for g in args.grid.split(",")]
    totals = {g: np.zeros(2) for g in grid}
    for timing_path in sorted(args.media.glob("*.timing.json")):
        timing = json.loads(timing_path.read_text())
        voices = [sp["voice"] for sp in timing["speakers"]]
        if len(set(voices)) < len(voices):
            continue  # a voice shared by two speakers cannot be told apart by voice
        video = args.media / f"{timing['meeting']}.mp4"
        pieces, emb = pieces_of(video, timing["duration"], cfg, encoder, args.work)
        lengths = np.array([b - a for a, b in pieces])
        row = []
        for g in grid:
            speakers.SAME_VOICE = g
            turns = speakers.turns_from_pieces(
                pieces, speakers.cluster(emb, lengths, cfg.speakers.max_speakers))
            r = der(reference(timing), [(t.start, t.end, t.speaker) for t in turns],
                    timing["duration"], 0.25)
            totals[g] += [r["miss"] + r["fa"] + r["conf"], r["speech"]]
            row.append(f"{g}: {r['der']:.1%} ({r['hyp_speakers']}/{r['ref_speakers']})")
        print(f"{timing['meeting']:14s}", "  ".join(row), flush=True)
    print("ALL", "  ".join(f"{g}: {e / s:.1%}" for g, (e, s) in totals.items() if s))


if __name__ == "__main__":
    main()
