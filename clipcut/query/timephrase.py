"""Time phrases in a query ("at 23 minutes", "around 1:05:30", "in the first 10 minutes",
"near the end") become a temporal prior and leave the semantic query."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b"
_CLOCK = r"(\d{1,2}:\d{2}(?::\d{2})?)"
_AMOUNT = rf"(?:{_CLOCK}|{_NUM}\s*{_UNIT}(?:\s*(?:and\s*)?{_NUM}\s*{_UNIT})?)"
_SCALE = {"h": 3600, "m": 60, "s": 1}

_PATTERNS = [
    ("first", re.compile(rf"\b(?:in|during|within)\s+the\s+first\s+{_AMOUNT}", re.I)),
    ("last", re.compile(rf"\b(?:in|during|within)\s+the\s+(?:last|final)\s+{_AMOUNT}", re.I)),
    ("after", re.compile(rf"\bafter\s+(?:the\s+)?{_AMOUNT}(?:\s+mark)?", re.I)),
    ("before", re.compile(rf"\bbefore\s+(?:the\s+)?{_AMOUNT}(?:\s+mark)?", re.I)),
    ("point", re.compile(rf"\b(?:at|around|about|near|from|by)\s+(?:minute\s+(?=\d)|the\s+)?"
                         rf"{_AMOUNT}(?:\s+mark|\s+in)?", re.I)),
    ("point_minute", re.compile(rf"\b(?:at|around|near)\s+minute\s+{_NUM}", re.I)),
    ("end", re.compile(r"\b(?:near|at|towards?|by)\s+the\s+(?:very\s+)?end(?:\s+of\s+the\s+\w+)?", re.I)),
    ("start", re.compile(r"\b(?:near|at|in)\s+the\s+(?:very\s+)?(?:beginning|start)"
                         r"(?:\s+of\s+the\s+\w+)?", re.I)),
    ("middle", re.compile(r"\b(?:in|around|near)\s+the\s+middle(?:\s+of\s+the\s+\w+)?", re.I)),
]


@dataclass(frozen=True)
class TimePrior:
    """A window [lo, hi] (s) where the answer is expected; ``point`` priors are soft bumps.
    ``relative`` bounds are fractions of the duration."""

    kind: str              # "range" | "point" | "last" (lo = seconds before the end)
    lo: float
    hi: float
    relative: bool = False
    phrase: str = ""

    def weight(self, t: np.ndarray, duration: float, sigma: float) -> np.ndarray:
        """1 inside the expected region, falling smoothly to 0 outside it."""
        lo, hi = (self.lo * duration, self.hi * duration) if self.relative else (self.lo, self.hi)
        dist = np.maximum(0.0, np.maximum(lo - t, t - hi))
        return np.exp(-0.5 * (dist / sigma) ** 2)


def _amount(groups: tuple) -> float | None:
    clock, n1, u1, n2, u2 = groups[:5]
    if clock:
        parts = [int(p) for p in clock.split(":")]
        secs = 0
        for p in parts:
            secs = secs * 60 + p
        return float(secs) if len(parts) == 3 else float(parts[0] * 60 + parts[1])
    if n1 is None:
        return None
    total = float(n1) * _SCALE[u1[0].lower()]
    if n2 is not None:
        total += float(n2) * _SCALE[u2[0].lower()]
    return total


def parse(query: str) -> tuple[str, TimePrior | None]:
    """(semantic query, prior). The first time phrase found wins; it is removed from the text."""
    for kind, pattern in _PATTERNS:
        m = pattern.search(query)
        if not m:
            continue
        prior = None
        if kind in ("first", "last", "after", "before", "point"):
            secs = _amount(m.groups())
            if secs is None:
                continue
            if kind == "first":
                prior = TimePrior("range", 0.0, secs)
            elif kind == "last":
                prior = TimePrior("last", secs, secs)  # the last `secs` of the recording
            elif kind == "after":
                prior = TimePrior("range", secs, float("inf"))
            elif kind == "before":
                prior = TimePrior("range", 0.0, secs)
            else:
                prior = TimePrior("point", secs, secs)
        elif kind == "point_minute":
            secs = float(m.group(1)) * 60
            prior = TimePrior("point", secs, secs)
        elif kind == "end":
            prior = TimePrior("range", 0.85, 1.0, relative=True)
        elif kind == "start":
            prior = TimePrior("range", 0.0, 0.15, relative=True)
        elif kind == "middle":
            prior = TimePrior("range", 0.35, 0.65, relative=True)
        rest = (query[:m.start()] + " " + query[m.end():])
        rest = re.sub(r"\s+([,.?!])", r"\1", " ".join(rest.split())).strip(" ,")
        return rest, TimePrior(prior.kind, prior.lo, prior.hi, prior.relative, m.group(0))
    return query.strip(), None


def prior_weights(prior: TimePrior | None, t: np.ndarray, duration: float,
                  sigma: float) -> np.ndarray:
    """Weight in [0, 1] of each time ``t``; all ones without a prior."""
    if prior is None:
        return np.ones_like(t, dtype=np.float64)
    if prior.kind == "last":
        lo = max(0.0, duration - prior.lo)
        return TimePrior("range", lo, duration).weight(t, duration, sigma)
    return prior.weight(t, duration, sigma)
