"""Result dataclasses shared by the pipelines. Every time is float seconds from the start."""
from __future__ import annotations

from dataclasses import dataclass, field

Seconds = float


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

    @property
    def speakers(self) -> list[str]:
        """Who speaks in the clip, in order of first appearance."""
        return list(dict.fromkeys(t["speaker"] for t in self.turns if t["speaker"]))

    @property
    def duration(self) -> Seconds:
        return self.end - self.start
