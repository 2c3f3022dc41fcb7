#!/usr/bin/env python3
"""Measure clipcut's calibrated confidence and its "no match" on indexed QMSum meetings.

    python scripts/bench_confidence.py --media MEDIA_VAL --out-dir runs [--baselines ...]

MEDIA_VAL holds the built and indexed validation meetings (build_media.py, clipcut index).
In one process (models loaded once) through the same clipcut.search() as the command:
 - every meeting's own queries with --all (10 clips, weak ones kept and marked) and with the
   defaults; both runs are scored by score.py next to the given baselines, and the --all
   clips give the reliability table (10 bins) and the expected calibration error;
 - off-topic queries: for each meeting, --per-other topic queries of meetings of another
   domain (product, academic, committee), and every query of scripts/data/offtopic-val.txt;
   the other-domain ones are also shown apart as generic (scripts/data/generic-topics-val.txt:
   topics that name no subject of their domain, "Meeting close-up") and domain-specific.
A query is answered "no match" when none of its 10 --all clips reaches the floor; the last
row counts the command's own exit 1 (its default output empty: without --all it looks
further down the ranking once weak clips are dropped, so it can find a clip that reaches
the floor where the --all list held none). The fixed threshold clipcut used before (no
clip scoring 0.1) is shown from the same runs.
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
sys.path.insert(0, str(ROOT / "scripts"))

from bench_eval import BENCH, apply_overrides  # noqa: E402
from train_confidence import offtopic_list, other_domain, relevant, reliability  # noqa: E402
from train_reranker import SCORE  # noqa: E402

from clipcut import api  # noqa: E402
from clipcut.config import load_config  # noqa: E402

OLD_MIN_SCORE = 0.1  # the fixed score threshold of the release before calibrated confidence
GENERIC = ROOT / "scripts" / "data" / "generic-topics-val.txt"


def ask(video: Path, text: str, cfg, keep_weak: bool) -> list[dict]:
    clips = api.search(video, text, cfg, 10, keep_weak=keep_weak).clips
    return [{"start": c.start, "end": c.end, "score": c.score, "confidence": c.confidence,
             "weak": c.weak, "video": c.video} for c in clips]


def own_runs(media: Path, cfg) -> tuple[list[dict], list[dict], list[dict]]:
    """(queries with answers, --all run, default run) of every meeting's own queries."""
    queries, every, default = [], [], []
    for qf in sorted(media.glob("*.queries.jsonl")):
        video = media / qf.name.replace(".queries.jsonl", ".mp4")
        for line in qf.read_text().splitlines():
            q = json.loads(line)
            queries.append(q)
            for run, keep in ((every, True), (default, False)):
                run.append({"meeting": q["meeting"], "qid": q["qid"],
                            "clips": ask(video, q["query"], cfg, keep)})
    return queries, every, default


def offtopic_runs(media: Path, queries: list[dict], written: list[str], per_other: int,
                  seed: int, cfg) -> list[dict]:
    rng = np.random.default_rng(seed)
    meetings = sorted({q["meeting"] for q in queries})
    topics = [(q["meeting"], q["query"]) for q in queries if q.get("type") == "topic"]
    rows = []
    for m in meetings:
        picked = other_domain(topics, m, per_other, rng)
        for kind, texts in (("other-domain", picked), ("written", written)):
            for text in texts:
                video = media / f"{m}.mp4"
                rows.append({"meeting": m, "kind": kind, "query": text,
                             "clips": ask(video, text, cfg, True),
                             "shown": len(ask(video, text, cfg, False))})
    return rows


def best(run_row: dict, key: str) -> float:
    return max((c[key] for c in run_row["clips"]), default=-np.inf)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--baselines", nargs="*", type=Path, default=[])
    ap.add_argument("--per-other", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="section.key=value override")
    ap.add_argument("--skip-offtopic", action="store_true")
    args = ap.parse_args()

    cfg = apply_overrides(load_config(), args.set)
    floor = cfg.query.min_confidence
    args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    queries, every, default = own_runs(args.media, cfg)
    for name, run in (("all", every), ("default", default)):
        (args.out_dir / f"confidence-{name}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in run))
    print(f"{len(queries)} own queries in {time.time() - t0:.0f} s", file=sys.stderr)

    answers = {(q["meeting"], q["qid"]): SCORE.merge(q["gt"]) for q in queries}
    p, y = [], []
    for r in every:
        for c in r["clips"]:
            p.append(c["confidence"])
            y.append(relevant((c["start"], c["end"]), answers[(r["meeting"], r["qid"])]))
    rows, ece = reliability(np.array(p), np.array(y, float))
    print(f"\nReliability of the --all clips of {len(queries)} own queries ({len(p)} clips), "
          f"ECE {ece:.4f}\n\n| confidence | clips | mean confidence | relevant |\n|---|---|---|---|")
    for b, n, mc, rel in rows:
        print(f"| {b} | {n} | {mc:.3f} | {rel:.3f} |")

    qfiles = sorted(args.media.glob("*.queries.jsonl"))
    subprocess.run([sys.executable, str(BENCH / "score.py"), "eval", "--queries",
                    *map(str, qfiles), "--runs", *map(str, args.baselines),
                    str(args.out_dir / "confidence-all.jsonl"),
                    str(args.out_dir / "confidence-default.jsonl")], check=True)

    off = []
    if not args.skip_offtopic:
        t1 = time.time()
        off = offtopic_runs(args.media, queries, offtopic_list(ROOT / "scripts" / "data" /
                                                                "offtopic-val.txt"),
                            args.per_other, args.seed, cfg)
        (args.out_dir / "confidence-offtopic.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in off))
        print(f"{len(off)} off-topic queries in {time.time() - t1:.0f} s", file=sys.stderr)
    other = [r for r in off if r["kind"] == "other-domain"]
    for r, d in zip(every, default):
        r["shown"] = len(d["clips"])
    groups = {"own": every, "other-domain": other}
    # the other-domain topics that name no subject of their domain (how a meeting runs: its
    # opening, close, schedule; GENERIC, labelled before any result was seen) apart
    generic = set(offtopic_list(GENERIC)) if GENERIC.exists() else set()
    if generic and other:
        groups["of it generic"] = [r for r in other if r["query"] in generic]
        groups["of it domain-specific"] = [r for r in other if r["query"] not in generic]
    groups["written"] = [r for r in off if r["kind"] == "written"]
    print("\nShare answered \"no match\"\n\n| rule | " + " | ".join(
        f"{k} ({len(v)})" for k, v in groups.items()) + " |\n|---|" + "---|" * len(groups))
    rules = [(f"score < {OLD_MIN_SCORE} (before)", "score", OLD_MIN_SCORE)] + [
        (f"confidence < {f:g}" + (" (default)" if f == floor else ""), "confidence", f)
        for f in sorted({0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, floor})]
    for name, key, f in rules:
        cells = [np.mean([best(r, key) < f for r in v]) if v else float("nan")
                 for v in groups.values()]
        print(f"| {name} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    # what a script sees: exit 1 when the default output (weak clips dropped, the ranking
    # looked at further down for clips that reach the floor) is empty
    cells = [np.mean([r["shown"] == 0 for r in v]) if v else float("nan")
             for v in groups.values()]
    print("| exit 1 of the command (default output empty) | " +
          " | ".join(f"{c:.1%}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
