#!/usr/bin/env python3
"""Clips of the wrong subject in the default output on short talks (a few minutes, several
subjects), where the confidence, fitted on hour-long meetings, barely tells them apart.

    python scripts/bench_short_talks.py --out /tmp/short choose   # scripts/data/short-talks.json
    python scripts/bench_short_talks.py --out /tmp/short check    # tests' and language talks
    python scripts/bench_short_talks.py --out /tmp/short medium   # scripts/data/medium-talks.json
    python scripts/bench_short_talks.py --out /tmp/short medium --captions   # from exact captions
    python scripts/bench_short_talks.py --out /tmp/short folder   # all of them in one folder

choose: three English talks (four subjects each, espeak-ng), written to choose [query]
short_stand_out, each subject asked in two ways, and five off-topic queries per talk.
medium: two talks of about six minutes (twenty subjects each, joined from the talks of
scripts/data/medium-talks.json and short-talks.json), to choose up to which length
[query] short applies.
check: the demo/tests' talk (clipcut.synth: its paraphrases and two plain queries) and the
Spanish, German and French talks of `bench_languages.py --out DIR retrieval` (asked in
English and in their language), given as --languages DIR.
folder: the talks of both sets linked into one folder (DIR/folder, caches included) and
every topic query asked of the whole folder, English and other-language recordings mixed: a
clip is right when it lies in a subject of that name in its recording (the tests' talk and
the language talks share "pricing" and "football"; the language talks all four subjects).
Each query goes through clipcut.search() with the configuration in effect (CLIPCUT_CONFIG for
variants); reported: topic queries answered (a clip not marked weak), the clips shown of the
right and of another subject, and off-topic queries answered.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipcut import api, synth  # noqa: E402
from clipcut.config import load_config  # noqa: E402


@dataclass
class Tally:
    """What the default output showed: topic queries asked and answered, with the right
    subject first, clips of the right and of another subject; off-topic queries asked and
    answered."""

    asked: int = 0
    answered: int = 0
    first_right: int = 0
    right: int = 0
    wrong: int = 0
    off_asked: int = 0
    off_answered: int = 0

    def topic(self, ok: list[bool]) -> None:
        """One topic query; ``ok``: whether each clip shown lies in the asked subject."""
        self.asked += 1
        self.answered += bool(ok)
        self.first_right += bool(ok) and ok[0]
        self.right += sum(ok)
        self.wrong += len(ok) - sum(ok)

    def off_topic(self, clips: list) -> None:
        self.off_asked += 1
        self.off_answered += bool(clips)


def made(out: Path, name: str, topics: dict, voice: str = "en-us",
         captions: bool = False) -> tuple[Path, dict]:
    """The talk (made once) and its subjects; with ``captions``, a link to it in
    ``out/captioned`` beside exact WebVTT captions of what it says, so it is indexed from
    them instead of from speech."""
    video = out / f"{name}.mp4"
    manifest = video.with_suffix(".json")
    if not manifest.exists():
        synth.make_recording(video, topics, voice=voice).save_manifest(manifest)
    rec = json.loads(manifest.read_text())
    if captions:
        (out / "captioned").mkdir(exist_ok=True)
        linked = out / "captioned" / video.name
        if not linked.exists():
            os.link(video, linked)
            linked.with_suffix(".vtt").write_text(synth.vtt_cues(
                (synth.SynthSentence(**s), None) for s in rec["sentences"]))
        video = linked
    return video, rec["topics"]


def talks(args, which: str) -> list[tuple[Path, dict, dict, list[str]]]:
    """(recording, subject -> (start, end), subject -> queries, off-topic queries)."""
    data = json.loads((ROOT / "scripts" / "data" / "short-talks.json").read_text())
    if which == "choose":
        return [(*made(args.out, name, t["topics"]), t["queries"], data["off_topic"])
                for name, t in data["talks"].items()]
    if which == "medium":
        medium = json.loads((ROOT / "scripts" / "data" / "medium-talks.json").read_text())
        parts = {**data["talks"], **medium["talks"]}
        return [(*made(args.out, name, {k: v for p in joined for k, v in parts[p]["topics"].items()},
                       captions=args.captions),
                 {k: v for p in joined for k, v in parts[p]["queries"].items()},
                 medium["off_topic"])
                for name, joined in medium["recordings"].items()]
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


def folder(args) -> int:
    """Every talk in one folder, each topic query asked of it (see the module docstring)."""
    everything = talks(args, "choose") + talks(args, "check")
    mixed = args.out / "folder"
    mixed.mkdir(exist_ok=True)
    subjects = {}
    for video, topics, _, _ in everything:
        for src in (video, video.with_name(video.name + ".clipcut.npz")):
            if not (mixed / src.name).exists():
                os.link(src, mixed / src.name)
        subjects[video.name] = topics

    def subject(c) -> str:
        return synth.topic_of(c.start, c.end, subjects[Path(c.video).name])
    cfg = load_config()
    t, top_right = Tally(), 0
    for video, topics, queries, off in everything:
        for topic, texts in queries.items():
            for text in texts:
                every = api.search(mixed, text, cfg, 5, keep_weak=True).clips
                top_right += bool(every) and subject(every[0]) == topic
                t.topic([subject(c) == topic for c in every if not c.weak])
        for text in off:
            t.off_topic(api.search(mixed, text, cfg, 5).clips)
    print(f"folder of {len(everything)} talks: topic queries {t.asked}, top clip right "
          f"{top_right} (--all); answered {t.answered}, first clip right {t.first_right}, "
          f"clips shown right {t.right}, wrong {t.wrong}; off-topic answered "
          f"{t.off_answered}/{t.off_asked}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", choices=["choose", "check", "medium", "folder"])
    ap.add_argument("--out", type=Path, required=True, help="folder for the generated talks")
    ap.add_argument("--languages", type=Path, default=Path("/tmp/langs"),
                    help="bench_languages.py's --out folder (check)")
    ap.add_argument("--captions", action="store_true",
                    help="medium: index the talks from exact captions instead of from speech")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.which == "folder":
        return folder(args)
    cfg = load_config()
    t = Tally()
    for video, topics, queries, off in talks(args, args.which):
        for topic, texts in queries.items():
            for text in texts:
                t.topic([synth.topic_of(c.start, c.end, topics) == topic
                         for c in api.search(video, text, cfg, 5).clips])
        for text in off:
            t.off_topic(api.search(video, text, cfg, 5).clips)
    print(f"{args.which}: topic queries answered {t.answered}/{t.asked} (first clip right "
          f"{t.first_right}); clips shown of the right subject {t.right}, of another "
          f"{t.wrong}; off-topic queries answered {t.off_answered}/{t.off_asked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
