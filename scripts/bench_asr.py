#!/usr/bin/env python3
"""Word error rate of the transcripts clipcut indexed from speech, against the captions.

    python scripts/bench_asr.py --media MEDIA_ASR --captions MEDIA_VAL

MEDIA_ASR holds recordings indexed without captions (their transcript came from the ASR);
MEDIA_CAPTIONS holds the same recordings' `.vtt` files (the benchmark's exact sentences).
Words are lower-cased with punctuation stripped. The two word streams are aligned in blocks:
a block closes at the first gap between caption cues after each 60 s, and a sentence of
either side belongs to the block holding its midpoint, so the edit distance is computed on
short sequences (a sentence straddling a block edge can add an error or two per block).
Prints per-recording and overall WER (substitutions + deletions + insertions over the
caption words) as JSON lines.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from clipcut import cache
from clipcut.index.transcript import parse_captions

BLOCK = 60.0


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (one numpy row per reference word)."""
    if not ref or not hyp:
        return max(len(ref), len(hyp))
    vocab = {w: i for i, w in enumerate(set(ref) | set(hyp))}
    h = np.array([vocab[w] for w in hyp])
    prev = np.arange(len(hyp) + 1)
    for i, w in enumerate(ref, 1):
        sub = prev[:-1] + (h != vocab[w])
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(sub, prev[1:] + 1)
        # insertions run left to right: cur[j] = min(cur[j], cur[j-1] + 1)
        cur = np.minimum.accumulate(cur - np.arange(len(cur))) + np.arange(len(cur))
        prev = cur
    return int(prev[-1])


def blocks(cues: list[tuple[float, float, str]]) -> list[float]:
    """Block edges: the first pause between cues after every BLOCK seconds."""
    edges, last = [0.0], 0.0
    for (_, end, _), (start, _, _) in zip(cues, cues[1:]):
        if end - last >= BLOCK and start >= end:
            edges.append((end + start) / 2)
            last = end
    return edges + [float("inf")]


def by_block(items, edges: list[float]) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(len(edges) - 1)]
    for start, end, text in items:
        out[int(np.searchsorted(edges, (start + end) / 2, side="right")) - 1] += words(text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--captions", type=Path, required=True)
    args = ap.parse_args()
    total_err = total_ref = 0
    for video in sorted(args.media.glob("*.mp4")):
        idx = cache.load(cache.sidecar_path(video))
        vtt = args.captions / video.with_suffix(".vtt").name
        if idx is None or not vtt.exists():
            continue
        cues = parse_captions(vtt.read_text())
        edges = blocks(cues)
        ref = by_block(cues, edges)
        hyp = by_block(zip(idx.sent_start, idx.sent_end, idx.sent_text), edges)
        err = sum(edit_distance(r, h) for r, h in zip(ref, hyp))
        n = sum(len(r) for r in ref)
        total_err, total_ref = total_err + err, total_ref + n
        print(json.dumps({"recording": video.stem, "transcript": idx.meta.get("models", {}).get("transcript"),
                          "words": n, "wer": round(err / max(n, 1), 4)}), flush=True)
    print(json.dumps({"recording": "all", "words": total_ref,
                      "wer": round(total_err / max(total_ref, 1), 4)}))


if __name__ == "__main__":
    main()
