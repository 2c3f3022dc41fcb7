#!/usr/bin/env python3
"""Sentences and speakers of a conversation recorded over steady background noise, or
between intro and outro music.

    python scripts/probe_noise.py [--noise 0 0.06 0.08 0.1 0.15] [--fixed-level] [--music]

The tests' generated sales call (clipcut.synth: three espeak-ng voices, nine turns, 19
sentences) with pink noise mixed in (ffmpeg's anoisesrc amplitude: 0.06 is about -39 dBFS,
0.1 about -34, 0.15 about -30; the digital silence of the benchmark's media is never there)
is indexed from speech and compared with its true turns: sentences found, turns found and the
diarization error rate (missed speech, false alarm and confusion over the true speech, 0.25 s
collar; `bench_diarization.der`). --fixed-level measures
pauses at [audio] silence_db (-40 dBFS) as releases before the tenth sitting did, instead of
following the background noise (`index.audio.silence_threshold`). --music adds a row for
the call (sound only) after 20 s of intro music that goes on quietly under the speech and
comes back for 15 s after it (`synth.add_music`), its times taken back by the intro; the
first sentence found is printed with its start (the call's first word is at 1.0 s).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_diarization import der  # scripts/: DER on a 10 ms grid, speakers mapped one to one
from clipcut import api, synth
from clipcut.config import load_config
from clipcut.index import audio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.06, 0.08, 0.1, 0.15])
    ap.add_argument("--fixed-level", action="store_true")
    ap.add_argument("--music", action="store_true")
    args = ap.parse_args()
    if args.fixed_level:
        audio.silence_threshold = lambda db, floor_db: floor_db
    cfg = load_config()
    print("noise  sentences (19)  turns (9)  DER: missed + false alarm + confusion")
    with tempfile.TemporaryDirectory() as tmp:
        conv = synth.make_conversation(Path(tmp) / "clean.mp4")
        n_true = sum(len(t.sentences) for t in conv.turns)
        truth = [(t.start, t.end, t.speaker) for t in conv.turns]
        runs = [(f"{amp:.2f}", amp) for amp in args.noise] + ([("music", None)] if args.music else [])
        for name, amp in runs:
            shift = 0.0
            if amp is None:
                video, shift = Path(tmp) / "call-music.m4a", 20.0
                synth.add_music(conv.video, video, conv.duration, intro=shift)
            else:
                video = Path(tmp) / f"call-{amp}.mp4"
                synth.remix_audio(conv.video, video,
                                  synth.noise(conv.duration, amp) if amp else "[0:a]anull[a]")
            idx = api.index_video(video, cfg).index
            found = [(float(a) - shift, float(b) - shift, str(s))
                     for (a, b), s in zip(idx.turns, idx.turn_speaker)]
            e = der(truth, found, conv.duration, 0.25)
            share = {k: 100 * e[k] / max(e["speech"], 1e-9) for k in ("miss", "fa", "conf")}
            print(f"{name:5s}  {len(idx.sent_start):3d}/{n_true}  {len(idx.turns):3d}  "
                  f"{100 * e['der']:.1f} % ({share['miss']:.1f} + {share['fa']:.1f} + "
                  f"{share['conf']:.1f})  speakers {idx.meta.get('speaker_count')}, first "
                  f"sentence at {idx.sent_start[0] - shift:.2f} s: {idx.sent_text[0][:40]!r}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
