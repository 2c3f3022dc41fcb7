"""Choosing the final clips: temporal NMS, transcript de-duplication, unresolved openers."""
from __future__ import annotations

import re

import numpy as np

# A clip that opens with one of these answers or points back at something it does not hold.
OPENER = re.compile(r"^\W*(yes|yeah|yep|no|nope|exactly|right|correct|sure|that|that's|this|"
                    r"these|those|it|it's|they|they're|he|she|so|and|but|because|which|also|"
                    r"then|well)\b", re.I)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def repeats(own: tuple[float, float], clip: tuple[float, float],
            kept: list[tuple[tuple[float, float], tuple[float, float]]], limit: float) -> bool:
    """True when a clip repeats a kept one: their own parts (``own``: the matched sentences,
    before the conversation's context was taken in) overlap by more than ``limit`` of the
    shorter, or more than half of either's own part is shown by the other clip. Context a
    clip took in (a question, a turn's start) may reach into a neighbour without making
    either a repeat."""
    for k_own, k_clip in kept:
        if overlap(own, k_own) > limit * min(own[1] - own[0], k_own[1] - k_own[0]):
            return True
        if overlap(own, k_clip) > 0.5 * (own[1] - own[0]) or \
                overlap(clip, k_own) > 0.5 * (k_own[1] - k_own[0]):
            return True
    return False


def is_duplicate(vec: np.ndarray, kept: list[np.ndarray], limit: float) -> bool:
    """True when the clip's transcript embedding is closer than ``limit`` (cosine) to a kept one."""
    return any(float(vec @ k) > limit for k in kept) if np.linalg.norm(vec) > 0 else False


def opens_with_reference(text: str) -> bool:
    return bool(OPENER.match(text))
