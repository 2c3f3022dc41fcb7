#!/usr/bin/env python3
"""Sentences and speakers of a conversation recorded over steady background noise.

    python scripts/probe_noise.py [--noise 0 0.06 0.08 0.1 0.15] [--fixed-level]

The tests' generated sales call (clipcut.synth: three espeak-ng voices, nine turns, 19
sentences) with pink noise mixed in (ffmpeg's anoisesrc amplitude: 0.06 is about -39 dBFS,
0.1 about -34, 0.15 about -30; the digital silence of the benchmark's media is never there)
is indexed from speech and compared with its true turns: sentences found, turns found and the
diarization error rate (missed speech, false alarm and confusion over the true speech, 0.25 s
collar, each found speaker mapped to the true one it overlaps most). --fixed-level measures
pauses at [audio] silence_db (-40 dBFS) as releases before the tenth sitting did, instead of
following the background noise (`index.audio.silence_threshold`).
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from clipcut import api, synth
from clipcut.config import load_config
from clipcut.index import audio


def error_rate(conv: synth.Conversation, idx) -> tuple[float, float, float]:
    """(missed, false alarm, confusion) as shares of the true speech outside the collars."""
    t = np.arange(0.0, conv.duration, 0.01)
    truth = np.full(t.size, "", dtype=object)
    found = np.full(t.size, "", dtype=object)
    collar = np.zeros(t.size, bool)
    for turn in conv.turns:
        truth[(t >= turn.start) & (t < turn.end)] = turn.speaker
        collar |= (np.abs(t - turn.start) < 0.25) | (np.abs(t - turn.end) < 0.25)
    for (a, b), who in zip(idx.turns, idx.turn_speaker):
        found[(t >= a) & (t < b)] = str(who)
    scored = ~collar
    to_true = {}
    for label in set(found) - {""}:
        mine = scored & (found == label)
        to_true[label] = max(set(conv_speakers(conv)), key=lambda s: np.sum(mine & (truth == s)))
    mapped = np.array([to_true.get(x, "") for x in found], dtype=object)
    speech = scored & (truth != "")
    n = max(int(speech.sum()), 1)
    return (np.sum(speech & (found == "")) / n, np.sum(scored & (truth == "") & (found != "")) / n,
            np.sum(speech & (found != "") & (mapped != truth)) / n)


def conv_speakers(conv: synth.Conversation) -> list[str]:
    return sorted({t.speaker for t in conv.turns})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.06, 0.08, 0.1, 0.15])
    ap.add_argument("--fixed-level", action="store_true")
    args = ap.parse_args()
    if args.fixed_level:
        audio.silence_threshold = lambda db, floor_db: floor_db
    cfg = load_config()
    print("noise  sentences (19)  turns (9)  DER: missed + false alarm + confusion")
    with tempfile.TemporaryDirectory() as tmp:
        conv = synth.make_conversation(Path(tmp) / "clean.mp4")
        n_true = sum(len(t.sentences) for t in conv.turns)
        for amp in args.noise:
            video = Path(tmp) / f"call-{amp}.mp4"
            graph = (f"anoisesrc=d={conv.duration + 1:.1f}:c=pink:a={amp}:seed=1[n];"
                     "[0:a][n]amix=inputs=2:duration=first:normalize=0[a]") if amp else "[0:a]anull[a]"
            subprocess.run(["ffmpeg", "-v", "error", "-i", conv.video, "-filter_complex", graph,
                            "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "aac",
                            str(video)], check=True)
            idx = api.index_video(video, cfg).index
            miss, fa, conf = error_rate(conv, idx)
            print(f"{amp:.2f}   {len(idx.sent_start):3d}/{n_true}  {len(idx.turns):3d}  "
                  f"{100 * (miss + fa + conf):.1f} % ({100 * miss:.1f} + {100 * fa:.1f} + "
                  f"{100 * conf:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
