"""Group timed words into sentences: punctuation ends one, so do long pauses and length."""
from __future__ import annotations

import re

import numpy as np

from ..types import Sentence, Word

_END = re.compile(r"[.?!…][\"')\]]*$")
_ABBREV = {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."}


def align_to_silences(words: list[Word], silences: np.ndarray, min_silence: float) -> list[Word]:
    """Pull word edges out of measured silences of at least ``min_silence`` s.

    ASR word times often stretch into a pause (the last word before it ends late, the first
    after it starts early); the silence map says where the pause really is. A word that starts
    inside such a silence and ends after it starts at the silence's end; one that ends inside
    it and started before it ends at the silence's start."""
    sil = np.asarray(silences, dtype=np.float64).reshape(-1, 2)
    sil = sil[sil[:, 1] - sil[:, 0] >= min_silence]
    if not len(sil):
        return list(words)
    out = []
    for w in words:
        start, end = w.start, w.end
        i = int(np.searchsorted(sil[:, 0], start, side="right")) - 1  # last silence starting <= start
        if i >= 0 and start < sil[i, 1] < end:
            start = float(sil[i, 1])
        j = int(np.searchsorted(sil[:, 0], end, side="left")) - 1     # last silence starting < end
        if j >= 0 and start < sil[j, 0] and end <= sil[j, 1]:
            end = float(sil[j, 0])
        out.append(Word(start, end, w.text) if (start, end) != (w.start, w.end) else w)
    return out


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
