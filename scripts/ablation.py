#!/usr/bin/env python3
"""The query-encoder ablation on QMSum validation meetings: every variant and the BM25 and
dense baselines scored in one `score.py eval` run, printed as a markdown table.

    python scripts/ablation.py --media MEDIA_DIR --runs RUNS_DIR \\
        [--no-mining-weights W.npz] [--fusion-weights W.npz]

MEDIA_DIR holds build_media.py output indexed by `clipcut index`. Variants share every
setting but the one named; "routed k (shipped)" is the default: hard negatives, routed k,
and fusion as training left it (audio kept out when it does not beat the margin).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench_eval import BENCH, apply_overrides, run_queries
from clipcut.config import load_config

COLUMNS = [("P@5", "all"), ("R@10", "all"), ("MAP@10", "all"), ("NDCG@10", "all"),
           ("NDCG@10", "type:topic"), ("NDCG@10", "type:specific")]


def variants(args) -> list[tuple[str, list[str]]]:
    out = [("untrained (hand-set encoder)", ["query.encoder=untrained"]),
           ("untrained, previous release thresholds (min 0.13, relative 0.5)",
            ["query.encoder=untrained", "query.min_score=0.13", "query.relative_score=0.5",
             "query.relative_own=0"]),
           ("trained, dense attention (no top-k)", ["query.crisp_k=[512]"])]
    out += [(f"trained, crisp k = {k}", [f"query.crisp_k=[{k}]"]) for k in (3, 5, 7, 10)]
    out.append(("trained, routed k (shipped)", []))
    if args.fusion_weights:
        out.append(("trained, routed k, learned fusion with audio",
                    [f"query.encoder_weights=\"{args.fusion_weights}\""]))
    if args.no_mining_weights:
        out.append(("trained, routed k, no hard-negative mining",
                    [f"query.encoder_weights=\"{args.no_mining_weights}\""]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--no-mining-weights", type=Path)
    ap.add_argument("--fusion-weights", type=Path, help="weights whose fusion MLP and audio "
                    "adapter were kept although audio did not beat the margin")
    ap.add_argument("--bench", type=Path, default=BENCH)
    args = ap.parse_args()

    args.runs.mkdir(parents=True, exist_ok=True)
    qfiles = [str(p) for p in sorted(args.media.glob("*.queries.jsonl"))]
    score = [sys.executable, str(args.bench / "score.py")]
    names = {}
    for base in ("bm25", "dense"):
        out = args.runs / f"{base}.jsonl"
        subprocess.run(score + ["baseline", base, "--queries", *qfiles, "--vtt-dir",
                                str(args.media), "--out", str(out)], check=True)
        names[out.name] = f"{base} baseline"
    for i, (label, overrides) in enumerate(variants(args)):
        t0 = time.time()
        rows = run_queries(args.media, apply_overrides(load_config(), overrides))
        out = args.runs / f"variant{i}.jsonl"
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        names[out.name] = label
        print(f"{label}: {len(rows)} queries in {time.time() - t0:.0f} s", file=sys.stderr)
    metrics = args.runs / "ablation.metrics.json"
    subprocess.run(score + ["eval", "--queries", *qfiles, "--runs",
                            *(str(args.runs / n) for n in names), "--json", str(metrics)],
                   check=True, stdout=subprocess.DEVNULL)
    runs = json.loads(metrics.read_text())["runs"]
    n = runs[next(iter(names))]["buckets"]["all"]["n"]
    print(f"| run ({n} queries) | P@5 | R@10 | MAP@10 | NDCG@10 | NDCG topic | NDCG specific |")
    print("|---|---|---|---|---|---|---|")
    for name, label in names.items():
        b = runs[name]["buckets"]
        cells = [f"{b[bucket][metric]:.3f}".lstrip("0") for metric, bucket in COLUMNS]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
