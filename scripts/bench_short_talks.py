#!/usr/bin/env python3
"""Clips of the wrong subject in the default output on short talks (a few minutes, several
subjects), where the confidence, fitted on hour-long meetings, barely tells them apart.

    python scripts/bench_short_talks.py --out /tmp/short choose   # scripts/data/short-talks.json
    python scripts/bench_short_talks.py --out /tmp/short check    # tests' and language talks

choose: three English talks (four subjects each, espeak-ng), written to choose [query]
short_stand_out, each subject asked in two ways, and five off-topic queries per talk.
check: the demo/tests' talk (clipcut.synth: its paraphrases and two plain queries) and the
Spanish, German and French talks of `bench_languages.py --out DIR retrieval` (asked in
English and in their language), given as --languages DIR.
Each query goes through clipcut.search() with the configuration in effect (CLIPCUT_CONFIG for
variants); reported: topic queries answered (a clip not marked weak), the clips shown of the
right and of another subject, and off-topic queries answered.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipcut import api, synth  # noqa: E402
from clipcut.config import load_config  # noqa: E402


def made(out: Path, name: str, topics: dict, voice: str = "en-us") -> tuple[Path, dict]:
    video = out / f"{name}.mp4"
    manifest = video.with_suffix(".json")
    if not manifest.exists():
        synth.make_recording(video, topics, voice=voice).save_manifest(manifest)
    return video, json.loads(manifest.read_text())["topics"]


def talks(args) -> list[tuple[Path, dict, dict, list[str]]]:
    """(recording, subject -> (start, end), subject -> queries, off-topic queries)."""
    if args.which == "choose":
        data = json.loads((ROOT / "scripts" / "data" / "short-talks.json").read_text())
        return [(*made(args.out, name, t["topics"]), t["queries"], data["off_topic"])
                for name, t in data["talks"].items()]
    video, topics = made(args.out, "talk", synth.TOPICS)
    asked = {t: [q] for t, q in synth.PARAPHRASES.items()}
    asked["pricing"].append("pricing objection")
    asked["astronomy"].append("the telescope and the planets")
    out = [(video, topics, asked, synth.OFF_TOPIC)]
    for lang in synth.FOREIGN_TOPICS:
        video = args.languages / f"topics-{lang}.mp4"
        if not video.exists():
            raise SystemExit(f"{video} is missing: run bench_languages.py --out "
                             f"{args.languages} retrieval first")
        topics = json.loads(video.with_suffix(".json").read_text())["topics"]
        out.append((video, topics, {t: [synth.FOREIGN_QUERIES_EN[t], synth.FOREIGN_QUERIES[lang][t]]
                                    for t in topics}, synth.OFF_TOPIC))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", choices=["choose", "check"])
    ap.add_argument("--out", type=Path, required=True, help="folder for the generated talks")
    ap.add_argument("--languages", type=Path, default=Path("/tmp/langs"),
                    help="bench_languages.py's --out folder (check)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = load_config()
    answered = asked = right = wrong = off_answered = off_asked = 0
    for video, topics, queries, off in talks(args):
        for topic, texts in queries.items():
            for text in texts:
                shown = api.search(video, text, cfg, 5).clips
                asked += 1
                answered += bool(shown)
                right += sum(synth.topic_of(c.start, c.end, topics) == topic for c in shown)
                wrong += sum(synth.topic_of(c.start, c.end, topics) != topic for c in shown)
        for text in off:
            off_asked += 1
            off_answered += bool(api.search(video, text, cfg, 5).clips)
    print(f"{args.which}: topic queries answered {answered}/{asked}; clips shown of the right "
          f"subject {right}, of another {wrong}; off-topic queries answered "
          f"{off_answered}/{off_asked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
