#!/usr/bin/env python3
"""Diarization error rate of clipcut's speaker turns against the benchmark's true turns.

usage: bench_diarization.py MEDIA_DIR [--collar 0.25] [--direct]

For each <id>.mp4 with an <id>.timing.json in MEDIA_DIR: the hypothesis turns come from its
clipcut cache (``turns`` / ``turn_speaker``; run `clipcut index` first), or with --direct
from running the diarizer on the audio here (and its cost is timed).
DER = (missed speech + false alarm + speaker confusion) / reference speech, on a 10 ms grid,
frames within COLLAR s of a reference turn boundary not scored, hypothesis speakers mapped
one-to-one to reference speakers to maximise agreement (Hungarian).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEP = 0.01


def frames(turns: list[tuple[float, float, str]], n: int) -> tuple[np.ndarray, list[str]]:
    """Per-frame speaker index (-1 = nobody) and the speaker names."""
    names = sorted({t[2] for t in turns})
    lab = np.full(n, -1, np.int64)
    for a, b, s in turns:
        lab[int(round(a / STEP)):int(round(b / STEP))] = names.index(s)
    return lab, names


def der(ref: list, hyp: list, duration: float, collar: float) -> dict:
    n = int(np.ceil(duration / STEP)) + 1
    r, rn = frames(ref, n)
    h, hn = frames(hyp, n)
    scored = np.ones(n, bool)
    c = int(round(collar / STEP))
    for a, b, _ in ref:
        for t in (a, b):
            k = int(round(t / STEP))
            scored[max(0, k - c):k + c] = False
    r, h = r[scored], h[scored]
    speech = int((r >= 0).sum())
    miss = int(((r >= 0) & (h < 0)).sum())
    fa = int(((r < 0) & (h >= 0)).sum())
    both = (r >= 0) & (h >= 0)
    m = np.zeros((len(rn), max(1, len(hn))), np.int64)
    np.add.at(m, (r[both], h[both]), 1)
    ri, hi = linear_sum_assignment(-m)
    conf = int(both.sum() - m[ri, hi].sum())
    return {"speech": speech * STEP, "miss": miss * STEP, "fa": fa * STEP, "conf": conf * STEP,
            "der": (miss + fa + conf) / max(speech, 1), "ref_speakers": len(rn),
            "hyp_speakers": len(hn)}


def reference(timing: dict) -> list:
    return [(t["start"], t["end"], t["speaker"]) for t in timing["turns"]]


def from_cache(video: Path) -> list:
    from clipcut import cache
    for path in cache.candidates(video):
        idx = cache.load(path)
        if idx is not None and len(idx.turns):
            return [(float(a), float(b), str(s)) for (a, b), s in zip(idx.turns, idx.turn_speaker)]
    raise SystemExit(f"{video}: no cache with speaker turns; run clipcut index first")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("media", type=Path)
    ap.add_argument("--collar", type=float, default=0.25)
    ap.add_argument("--direct", action="store_true")
    args = ap.parse_args()
    from clipcut.config import load_config
    cfg = load_config(None)
    total = np.zeros(4)
    distinct = np.zeros(4)  # meetings where every speaker has a voice of their own
    spent = {"audio": 0.0, "embed": 0.0, "speech_s": 0.0}
    for timing_path in sorted(args.media.glob("*.timing.json")):
        timing = json.loads(timing_path.read_text())
        video = args.media / f"{timing['meeting']}.mp4"
        ref = reference(timing)
        if not args.direct:
            r = der(ref, from_cache(video), timing["duration"], args.collar)
        else:
            from clipcut import models
            from clipcut.index import media, pipeline, speakers
            encoder = models.load_voice_encoder()
            t0 = time.perf_counter()
            pcm = media.load_audio(video, 16000, timing["duration"])
            _, pauses = pipeline.measure_pauses(pcm, cfg)
            t1 = time.perf_counter()
            turns = speakers.diarize(pcm, 16000, pauses, timing["duration"], encoder,
                                     cfg.speakers.max_speakers)
            t2 = time.perf_counter()
            spent["audio"] += t1 - t0
            spent["embed"] += t2 - t1
            spent["speech_s"] += timing["duration"]
            r = der(ref, [(t.start, t.end, t.speaker) for t in turns], timing["duration"],
                    args.collar)
        total += [r["speech"], r["miss"], r["fa"], r["conf"]]
        voices = [sp["voice"] for sp in timing["speakers"]]
        shared = len(voices) - len(set(voices))
        if not shared:
            distinct += [r["speech"], r["miss"], r["fa"], r["conf"]]
        print(f"{timing['meeting']:14s} DER {r['der']:.1%}  miss "
              f"{r['miss'] / r['speech']:.1%}  fa {r['fa'] / r['speech']:.1%}  conf "
              f"{r['conf'] / r['speech']:.1%}  speakers {r['hyp_speakers']}/{r['ref_speakers']}"
              + (f"  ({len(set(voices))} voices for {len(voices)} speakers)" if shared else ""),
              flush=True)
    for name, (sp, mi, fa, co) in (("ALL", total), ("one voice per speaker", distinct)):
        if sp:
            print(f"{name}: DER {(mi + fa + co) / sp:.1%} (missed {mi / sp:.1%}, false "
                  f"alarm {fa / sp:.1%}, confusion {co / sp:.1%}) over {sp / 60:.0f} min of "
                  "speech")
    if args.direct and spent["speech_s"]:
        per90 = 5400 / spent["speech_s"]
        print(f"cost per 90 min of recording: diarization {spent['embed'] * per90:.1f} s "
              f"(audio decode {spent['audio'] * per90:.1f} s, shared with the index)")


if __name__ == "__main__":
    main()
