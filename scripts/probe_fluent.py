#!/usr/bin/env python3
"""Sentences and clips from fluent speech: how short a pause at a full stop still ends one.

    python scripts/probe_fluent.py [--gaps 0.2 0.25 0.3 0.35] [--pauses 0.25 0.3 0.35]
        [--noise AMPLITUDE] [--fixed-level]

The benchmark's meetings are spoken one sentence per espeak-ng call, so every full stop is
followed by 0.4 s or more of silence. Fluent speech pauses less: espeak-ng reading a
paragraph stops about 0.3 s at a full stop, people often less. For each silence between
sentences (--gaps) the tests' four-topic talk (clipcut.synth) is generated with it, and for
each punctuation pause of the ASR splitting (--pauses; `index.sentences.SENTENCE_PAUSE`, for
English) it is indexed from speech and asked:

- twelve queries about one sentence each: the top clip holds the sentence, the best
  sentence (the clip's evidence) is that sentence and no longer than it by half;
- the four paraphrases (top clip in the topic, answered) and the three off-topic queries
  (exit 1) of the tests.

Prints one row per (gap, pause): sentences found against the 28 spoken, then the counts.
--noise mixes steady pink noise of that amplitude into the talk (ffmpeg's anoisesrc: 0.06
is about -39 dBFS, 0.1 about -34: a room or a phone line, never under the -40 dBFS that
[audio] silence_db names silent); --fixed-level measures pauses at silence_db as releases
before the tenth sitting did, instead of following the background noise.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from clipcut import api, synth
from clipcut.config import load_config
from clipcut.index import audio, sentences

# query -> (topic, index of the sentence it asks about in synth.TOPICS[topic])
ONE_SENTENCE = {
    "a competitor quoted a cheaper contract": ("pricing", 2),
    "spending approval by the finance team": ("pricing", 6),
    "a two year contract at a fixed rate": ("pricing", 5),
    "the moons of Jupiter": ("astronomy", 1),
    "a comet after sunset": ("astronomy", 6),
    "distances to stars in light years": ("astronomy", 3),
    "kneading the dough until smooth": ("cooking", 1),
    "tomato soup with roasted garlic": ("cooking", 5),
    "oven temperature for the bread": ("cooking", 3),
    "the goalkeeper saved a penalty": ("football", 2),
    "signing a faster winger": ("football", 5),
    "our team is third in the league": ("football", 6),
}


def probe(rec: synth.Recording, cfg) -> dict:
    by_topic: dict[str, list[synth.SynthSentence]] = {}
    for s in rec.sentences:
        by_topic.setdefault(s.topic, []).append(s)
    row = {"held": 0, "evidence": 0, "answered": 0, "para_top": 0, "para_answered": 0,
           "off_refused": 0, "len": []}
    for query, (topic, i) in ONE_SENTENCE.items():
        target = by_topic[topic][i]
        clips = api.search(rec.video, query, cfg, 1, keep_weak=True).clips
        if not clips:
            continue
        c = clips[0]
        row["answered"] += not c.weak
        mid = (target.start + target.end) / 2
        row["held"] += c.start <= mid <= c.end
        ev = c.evidence
        if ev.get("sentence_start") is not None:
            start = float(ev["sentence_start"])
            length = len(ev.get("sentence", "").split())
            row["evidence"] += (abs(start - target.start) <= 0.6
                                and length <= 1.5 * len(target.text.split()))
        row["len"].append(c.duration)
    for topic, query in synth.PARAPHRASES.items():
        clips = api.search(rec.video, query, cfg, 1, keep_weak=True).clips
        if clips:
            row["para_top"] += synth.topic_of(clips[0].start, clips[0].end, rec.topics) == topic
            row["para_answered"] += not clips[0].weak
    for query in synth.OFF_TOPIC:
        clips = api.search(rec.video, query, cfg, 1).clips
        row["off_refused"] += not clips
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gaps", type=float, nargs="+", default=[0.2, 0.25, 0.3, 0.35])
    ap.add_argument("--pauses", type=float, nargs="+", default=[0.25, 0.3, 0.35])
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--fixed-level", action="store_true")
    args = ap.parse_args()
    cfg = load_config()
    if args.fixed_level:
        audio.silence_threshold = lambda db, floor_db: floor_db
    shipped = sentences.SENTENCE_PAUSE
    n_true = sum(len(v) for v in synth.TOPICS.values())
    print("gap  pause  sentences  one-sentence: held / evidence / answered  "
          "paraphrases: top / answered  off-topic refused  mean clip s")
    with tempfile.TemporaryDirectory() as tmp:
        for gap in args.gaps:
            master = synth.make_recording(Path(tmp) / f"talk-{gap}.mp4", sentence_pause=gap)
            if args.noise:
                noisy = Path(tmp) / f"noisy-{gap}.mp4"
                synth.remix_audio(master.video, noisy, synth.noise(master.duration, args.noise))
                master = dataclasses.replace(master, video=str(noisy))
            for pause in args.pauses:
                folder = Path(tmp) / f"{gap}-{pause}"
                folder.mkdir()
                video = folder / "talk.mp4"
                video.hardlink_to(master.video)
                rec = dataclasses.replace(master, video=str(video))
                sentences.SENTENCE_PAUSE = pause
                try:
                    n_sent = len(api.index_video(video, cfg).index.sent_start)
                    row = probe(rec, cfg)
                finally:
                    sentences.SENTENCE_PAUSE = shipped
                k = len(ONE_SENTENCE)
                mean_len = sum(row["len"]) / max(len(row["len"]), 1)
                print(f"{gap:.2f} {pause:.2f}  {n_sent:3d}/{n_true}  "
                      f"{row['held']}/{k} {row['evidence']}/{k} {row['answered']}/{k}  "
                      f"{row['para_top']}/4 {row['para_answered']}/4  "
                      f"{row['off_refused']}/{len(synth.OFF_TOPIC)}  {mean_len:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
