"""Two-stage retrieval over one cache: coarse windows, then the best sentence span inside."""
from __future__ import annotations

import numpy as np

from ..index.windows import members  # the same membership rule the index used
from ..words import spelling, terms as word_terms

BM25_K1 = 1.5
BM25_B = 0.75
LEXICAL_HALF = 4.0  # BM25 score at which the saturated lexical score reaches 0.5


def window_sentences(windows: np.ndarray, sent_start: np.ndarray, sent_end: np.ndarray) -> list[np.ndarray]:
    """Indices of the sentences whose midpoint lies in each window (as when the cache was built)."""
    return members(windows, (sent_start + sent_end) / 2)


def bm25(terms: tuple[str, ...], docs: list[str]) -> np.ndarray:
    """Okapi BM25 of each document for the query terms (documents = window texts), words
    compared in one spelling (``words.spelling``: "colours" meets "colors")."""
    scores = np.zeros(len(docs))
    if not terms or not docs:
        return scores
    tokenized = [word_terms(d) for d in docs]
    terms = tuple(spelling(t) for t in terms)
    lengths = np.array([len(t) for t in tokenized], dtype=np.float64)
    avg = lengths.mean() if lengths.mean() > 0 else 1.0
    n = len(docs)
    for term in set(terms):
        tf = np.array([t.count(term) for t in tokenized], dtype=np.float64)
        df = float((tf > 0).sum())
        if df == 0:
            continue
        idf = np.log((n - df + 0.5) / (df + 0.5) + 1.0)
        scores += idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * lengths / avg))
    return scores


def with_context(scores: np.ndarray, radius: int, weight: float) -> np.ndarray:
    """Blend each window's score with the mean of its neighbours within ``radius`` windows:
    a discussion that runs over several windows outranks a lone matching phrase."""
    if radius <= 0 or weight <= 0 or len(scores) < 2:
        return scores
    n = len(scores)
    csum = np.concatenate([[0.0], np.cumsum(scores)])
    lo = np.maximum(0, np.arange(n) - radius)
    hi = np.minimum(n, np.arange(n) + radius + 1)
    neigh = (csum[hi] - csum[lo] - scores) / np.maximum(1, hi - lo - 1)
    return (1 - weight) * scores + weight * neigh


def best_span(sims: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_len: float,
              max_len: float, baseline: float) -> tuple[int, int, float]:
    """Contiguous run i..j maximizing sum(sims - baseline) with min_len <= length <= max_len
    (the longest run under max_len if nothing reaches min_len). Returns (i, j, mean sim)."""
    n = len(sims)
    best = (0, 0, -np.inf)
    gain = sims - baseline
    for i in range(n):
        total = 0.0
        for j in range(i, n):
            length = ends[j] - starts[i]
            if length > max_len and j > i:
                break
            total += gain[j]
            if length >= min_len or (j == n - 1):
                if total > best[2]:
                    best = (i, j, total)
    i, j, _ = best
    return i, j, float(sims[i:j + 1].mean()) if n else 0.0
