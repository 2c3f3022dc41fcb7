#!/usr/bin/env python3
"""Word error rate of the transcripts clipcut indexed from speech, against the captions.

    python scripts/bench_asr.py --media MEDIA_ASR --captions MEDIA_VAL

MEDIA_ASR holds recordings indexed without captions (their transcript came from the ASR);
MEDIA_CAPTIONS holds the same recordings' `.vtt` files (the benchmark's exact sentences).
Words are lower-cased with punctuation stripped; WER is given as is and with hesitations
("uh", "um", "hmm", ...) left out of both sides, as Whisper leaves them out by design. The two word streams are aligned in blocks:
a block closes at the first gap between caption cues after each 60 s, and a caption cue, or
an ASR word (a sentence for caches that keep no words), belongs to the block holding its
midpoint, so the edit distance is computed on
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
# hesitations Whisper leaves out by design (as Whisper's own English normalizer drops them)
FILLERS = {"uh", "um", "uhm", "mm", "hmm", "mhm", "ah", "eh", "er", "erm", "huh", "hm", "mmm"}


def words(text: str, keep_fillers: bool = True) -> list[str]:
    out = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return out if keep_fillers else [w for w in out if w not in FILLERS]


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
    for (_, end, *_), (start, *_) in zip(cues, cues[1:]):
        if end - last >= BLOCK and start >= end:
            edges.append((end + start) / 2)
            last = end
    return edges + [float("inf")]


def by_block(items, edges: list[float], keep_fillers: bool) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(len(edges) - 1)]
    for start, end, text, *_ in items:
        i = int(np.searchsorted(edges, (start + end) / 2, side="right")) - 1
        out[i] += words(text, keep_fillers)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--captions", type=Path, required=True)
    args = ap.parse_args()
    totals = {True: [0, 0], False: [0, 0]}
    for video in sorted(args.media.glob("*.mp4")):
        idx = cache.load(cache.sidecar_path(video))
        vtt = args.captions / video.with_suffix(".vtt").name
        if idx is None or not vtt.exists():
            continue
        cues = parse_captions(vtt.read_text())
        edges = blocks(cues)
        # the cache's timed words when it keeps them (placed by their own times), else its
        # sentences
        hyp_items = list(zip(idx.word_start, idx.word_end, idx.word_text)) \
            if len(idx.word_start) else list(zip(idx.sent_start, idx.sent_end, idx.sent_text))
        row = {"recording": video.stem, "transcript": idx.meta.get("models", {}).get("transcript")}
        for keep in (True, False):
            ref = by_block(cues, edges, keep)
            hyp = by_block(hyp_items, edges, keep)
            err = sum(edit_distance(r, h) for r, h in zip(ref, hyp))
            n = sum(len(r) for r in ref)
            totals[keep][0] += err
            totals[keep][1] += n
            row["wer" if keep else "wer_no_fillers"] = round(err / max(n, 1), 4)
            row["words" if keep else "words_no_fillers"] = n
        print(json.dumps(row), flush=True)
    print(json.dumps({"recording": "all", "words": totals[True][1],
                      "wer": round(totals[True][0] / max(totals[True][1], 1), 4),
                      "wer_no_fillers": round(totals[False][0] / max(totals[False][1], 1), 4)}))


if __name__ == "__main__":
    main()
