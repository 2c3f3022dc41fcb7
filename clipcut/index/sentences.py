"""Group timed words into sentences: punctuation ends one, so do long pauses and length."""
from __future__ import annotations

import re

from ..types import Sentence, Word

_END = re.compile(r"[.?!…][\"')\]]*$")
_ABBREV = {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."}


def split_sentences(words: list[Word], *, max_gap: float = 1.5,
                    max_duration: float = 30.0) -> list[Sentence]:
    """Sentences from words in time order.

    A sentence ends after a word with final punctuation (not a known abbreviation), before a
    pause longer than ``max_gap`` s, or when it would run longer than ``max_duration`` s.
    """
    sentences: list[Sentence] = []
    current: list[Word] = []

    def flush() -> None:
        if current:
            text = " ".join(w.text for w in current).strip()
            sentences.append(Sentence(current[0].start, max(current[-1].end, current[0].start), text))
            current.clear()

    for i, word in enumerate(words):
        if current and (word.start - current[-1].end > max_gap
                        or word.end - current[0].start > max_duration):
            flush()
        current.append(word)
        ends = _END.search(word.text) and word.text.lower() not in _ABBREV
        if ends:
            flush()
    flush()
    return sentences
