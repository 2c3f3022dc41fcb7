"""Result dataclasses shared by the pipelines. Every time is float seconds from the start."""
from __future__ import annotations

from dataclasses import dataclass, field

Seconds = float


def clock(t: Seconds) -> str:
    """A time as people read it: m:ss.s, or h:mm:ss.s from an hour on."""
    tenths = round(t * 10)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s = f"{rest // 10:02d}.{rest % 10}"
    return f"{h}:{m:02d}:{s}" if h else f"{m}:{s}"


@dataclass(frozen=True)
class Word:
    start: Seconds
    end: Seconds
    text: str


@dataclass(frozen=True)
class Sentence:
    start: Seconds
    end: Seconds
    text: str


@dataclass(frozen=True)
class Clip:
    """One ranked answer: a span of one recording with its score split by modality."""

    video: str
    start: Seconds
    end: Seconds
    score: float
    text: str
    modality: dict[str, float] = field(default_factory=dict)
    rank: int = 0
    file: str | None = None
    confidence: float | None = None  # calibrated probability that the clip answers the query
    weak: bool = False               # under the confidence floor (kept only on request)
    evidence: dict = field(default_factory=dict)  # best sentence, query words found
    turns: list = field(default_factory=list)     # [{"speaker", "start", "end", "text"}]
    # the clip's sentences, each {"speaker", "start", "end", "text", "words": [[s, e, w], ...]}
    # (words empty when the cache has no word times): what subtitles are timed from
    lines: list = field(default_factory=list, repr=False)

    @property
    def speakers(self) -> list[str]:
        """Who speaks in the clip, in order of first appearance."""
        return list(dict.fromkeys(t["speaker"] for t in self.turns if t["speaker"]))

    @property
    def duration(self) -> Seconds:
        return self.end - self.start
