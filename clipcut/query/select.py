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


def overlaps_too_much(span: tuple[float, float], kept: list[tuple[float, float]],
                      limit: float) -> bool:
    """True when ``span`` shares more than ``limit`` of the shorter clip with a kept one."""
    length = span[1] - span[0]
    return any(overlap(span, k) > limit * min(length, k[1] - k[0]) for k in kept)


def is_duplicate(vec: np.ndarray, kept: list[np.ndarray], limit: float) -> bool:
    """True when the clip's transcript embedding is closer than ``limit`` (cosine) to a kept one."""
    return any(float(vec @ k) > limit for k in kept) if np.linalg.norm(vec) > 0 else False


def opens_with_reference(text: str) -> bool:
    return bool(OPENER.match(text))
