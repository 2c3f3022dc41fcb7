#!/usr/bin/env python3
"""Would a lexical (BM25) part of library stage 1 pick better recordings for stage 2?

    python scripts/probe_lexical.py --media MEDIA_VAL [--recordings 5] [-k 200]

MEDIA_VAL holds the indexed validation meetings. Every window and sentence vector of every
meeting (through the shipped text adapter, as the library stores them) is searched exactly
for each validation query, and BM25 runs over every sentence of the corpus (the index a
full-text engine would keep). For each stage-1 variant: the share of queries whose own
meeting is among the recordings stage 2 would load (the first ``--recordings`` distinct
recordings of the ranked hits). Variants: dense alone (what the library does), BM25 alone,
and reciprocal-rank fusion of the two, by hit and by recording.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from clipcut import api, cache
from clipcut.config import load_config
from clipcut.query import retrieve
from clipcut.query.encoder import lexical_terms

RRF = 60  # reciprocal-rank fusion constant


class Corpus:
    """BM25 over tokenized sentences with an inverted index (what an FTS engine keeps)."""

    def __init__(self, texts: list[str]):
        toks = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
        self.n = len(toks)
        self.lens = np.array([len(t) for t in toks], float)
        self.avg = float(self.lens.mean())
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        lists: dict[str, list] = {}
        for j, tok in enumerate(toks):
            for term, c in Counter(tok).items():
                lists.setdefault(term, []).append((j, c))
        for term, items in lists.items():
            self.postings[term] = (np.array([j for j, _ in items]),
                                   np.array([c for _, c in items], float))

    def scores(self, terms: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(self.n)
        k1, b = retrieve.BM25_K1, retrieve.BM25_B
        for term in set(terms):
            if term not in self.postings:
                continue
            js, tf = self.postings[term]
            idf = np.log((self.n - len(js) + 0.5) / (len(js) + 0.5) + 1.0)
            out[js] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.lens[js] / self.avg))
        return out


def distinct(seq) -> list:
    return list(dict.fromkeys(int(s) for s in seq))


def fused(*rankings) -> list:
    score: dict[int, float] = {}
    for ranking in rankings:
        for r, m in enumerate(ranking):
            score[int(m)] = score.get(int(m), 0.0) + 1.0 / (RRF + r)
    return sorted(score, key=lambda m: -score[m])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--recordings", type=int, default=5)
    ap.add_argument("-k", type=int, default=200, help="hits of each stage-1 search")
    args = ap.parse_args()
    cfg = load_config()
    _, adapt = api.vector_fit(cfg)
    vecs, owner, texts, text_owner, queries = [], [], [], [], []
    for i, video in enumerate(sorted(args.media.glob("*.mp4"))):
        idx = cache.load(cache.sidecar_path(video))
        for emb in (idx.win_text, idx.sent_emb):
            keep = np.linalg.norm(emb, axis=1) > 0
            vecs.append(adapt(emb[keep]))
            owner += [i] * int(keep.sum())
        keep = np.linalg.norm(idx.sent_emb, axis=1) > 0
        texts += [str(t) for t in np.asarray(idx.sent_text)[keep]]
        text_owner += [i] * int(keep.sum())
        queries += [(i, json.loads(line)["query"])
                    for line in video.with_suffix(".queries.jsonl").read_text().splitlines()]
    vecs, owner, text_owner = np.concatenate(vecs), np.array(owner), np.array(text_owner)
    corpus = Corpus(texts)
    found = {"dense": [], "bm25": [], "fused by hit": [], "fused by recording": []}
    for gold, q in queries:
        sims = vecs @ api.encode_text(q, cfg)[2].vector
        dense = np.argsort(-sims)[:args.k]
        lex = corpus.scores(lexical_terms(q))
        bm = np.argsort(-lex)[:args.k]
        bm = bm[lex[bm] > 0]
        ranked = {"dense": distinct(owner[dense]), "bm25": distinct(text_owner[bm]),
                  "fused by hit": fused(owner[dense], text_owner[bm]),
                  "fused by recording": fused(distinct(owner[dense]), distinct(text_owner[bm]))}
        for name, recs in ranked.items():
            found[name].append(gold in recs[:args.recordings])
    print(json.dumps({"queries": len(queries), "recordings": args.recordings, "k": args.k,
                      "own meeting loaded": {n: round(float(np.mean(v)), 3)
                                             for n, v in found.items()}}))


if __name__ == "__main__":
    main()
