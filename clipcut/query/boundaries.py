"""Boundary snapping: clip edges move to sentence boundaries near them, preferring scene cuts
and silences: boundary_score(t) = w1*sentence(t) + w2*scene(t) + w3*silence(t) - distance."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENE_TOLERANCE = 1.0   # a scene cut this close to a boundary counts (s); frames are 1 s apart
SILENCE_TOLERANCE = 0.3  # a silence this close to a boundary counts (s)


@dataclass(frozen=True)
class SnapWeights:
    sentence: float = 1.0
    scene: float = 0.5
    silence: float = 0.5
    distance: float = 0.3   # penalty per `radius` of movement
    radius: float = 5.0     # s


def _near(t: float, points: np.ndarray, tol: float) -> bool:
    return bool(len(points)) and bool(np.min(np.abs(points - t)) <= tol)


def boundary_score(t: float, moved: float, is_start: bool, scenes: np.ndarray,
                   silences: np.ndarray, w: SnapWeights) -> float:
    """Score of a sentence boundary at ``t`` moved ``moved`` s from where it was asked for.
    A start is good right after a silence ends; an end is good right before one starts."""
    silence_edges = silences[:, 1] if is_start else silences[:, 0]
    return (w.sentence + w.scene * _near(t, scenes, SCENE_TOLERANCE)
            + w.silence * _near(t, silence_edges, SILENCE_TOLERANCE)
            - w.distance * abs(moved) / w.radius)


def snap(first: int, last: int, sent_start: np.ndarray, sent_end: np.ndarray,
         scenes: np.ndarray, silences: np.ndarray, w: SnapWeights,
         min_len: float, max_len: float, keep: int | None = None) -> tuple[int, int]:
    """Sentence indices (first, last) of the best-scoring boundaries within ``w.radius`` s of the
    span's current edges that keep its length within bounds (the span itself if none do)
    and, given ``keep``, that sentence (the one that matched best) inside."""
    t0, t1 = sent_start[first], sent_end[last]
    order = np.arange(len(sent_start))
    hold_a, hold_b = (last, first) if keep is None else (keep, keep)
    starts = np.flatnonzero((np.abs(sent_start - t0) <= w.radius) & (order <= hold_a)).tolist()
    ends = np.flatnonzero((np.abs(sent_end - t1) <= w.radius) & (order >= hold_b)).tolist()
    best, best_score = (first, last), -np.inf
    for i in starts:
        si = boundary_score(sent_start[i], sent_start[i] - t0, True, scenes, silences, w)
        for j in ends:
            if j < i:
                continue
            length = sent_end[j] - sent_start[i]
            if not min_len <= length <= max_len:
                continue
            score = si + boundary_score(sent_end[j], sent_end[j] - t1, False, scenes, silences, w)
            if score > best_score + 1e-9:
                best, best_score = (i, j), score
    return best


def pad(start: float, end: float, first: int, last: int, sent_start: np.ndarray,
        sent_end: np.ndarray, amount: float, duration: float) -> tuple[float, float]:
    """Widen by up to ``amount`` s on each side, only into the pause around the clip (half of it
    when a neighbouring sentence is there), so no clip starts or ends inside a sentence."""
    before = start if first == 0 else max(0.0, (start - sent_end[first - 1]) / 2)
    after = (duration - end) if last == len(sent_end) - 1 else max(0.0, (sent_start[last + 1] - end) / 2)
    return max(0.0, start - min(amount, before)), min(duration, end + min(amount, after))


def grow(first: int, last: int, sent_start: np.ndarray, sent_end: np.ndarray,
         min_len: float, max_len: float) -> tuple[int, int]:
    """A span shorter than ``min_len`` (no sentence boundaries within the snapping radius made
    it long enough) grown by whole neighbouring sentences, the nearer one first, while it
    stays within ``max_len``."""
    while sent_end[last] - sent_start[first] < min_len:
        options = []
        if first > 0 and sent_end[last] - sent_start[first - 1] <= max_len:
            options.append((sent_start[first] - sent_end[first - 1], first - 1, last))
        if last + 1 < len(sent_end) and sent_end[last + 1] - sent_start[first] <= max_len:
            options.append((sent_start[last + 1] - sent_end[last], first, last + 1))
        if not options:
            break
        _, first, last = min(options)
    return first, last


def widen(start: float, end: float, min_len: float, duration: float) -> tuple[float, float]:
    """A clip shorter than ``min_len`` (its sentences could not make one that long, even with
    their neighbours: a short transcript) grown into the audio around it, evenly on both
    sides as far as the recording allows; unchanged when it is long enough or the recording
    is shorter than ``min_len``."""
    short = min_len - (end - start)
    if short <= 0 or duration < min_len:
        return start, end
    a, b = start - short / 2, end + short / 2
    if a < 0:
        a, b = 0.0, b - a
    if b > duration:
        a, b = max(0.0, a - (b - duration)), duration
    return a, b
