"""Group timed words into sentences: punctuation ends one, so do long pauses and length."""
from __future__ import annotations

import re

import numpy as np

from ..types import Sentence, Word

# ASR transcripts (see split_at_pauses and extend_to_speech); measured on the speech-indexed
# validation subset with scripts/probe_sentences.py, and on fluent speech with
# scripts/probe_fluent.py
ASR_SPLIT = "pauses3"   # names this way of splitting in the cache's transcript id
ALIGN_PAUSE = 0.25      # word edges are pulled out of pauses this long (s)
# punctuation ends a sentence when a pause this long follows (s). English: the shortest the
# pause map holds; read fluently, sentences part at 0.3 s (espeak-ng reading a paragraph),
# and 0.35 s joined a whole topic into one sentence. Other languages, whose transcripts are
# noisier: 0.35 s (0.25 s put the top clip of 3 of 24 topic queries of the generated talks
# in a neighbouring topic, on a sentence of misheard words).
SENTENCE_PAUSE = 0.25
OTHER_SENTENCE_PAUSE = 0.35
EDGE_PAUSE = 0.3        # sentence edges move out to pauses this long (s)

_END = re.compile(r"[.?!…][\"')\]]*$")
_ABBREV = {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."}


def ends_sentence(word: str) -> bool:
    """Whether ``word`` closes a sentence: a full stop, question or exclamation mark (or an
    ellipsis) at its end, quotes and brackets after it allowed, not an abbreviation."""
    return bool(_END.search(word)) and word.lower() not in _ABBREV


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
        if ends_sentence(word.text):
            flush()
    flush()
    return sentences


def split_at_pauses(words: list[Word], *, pause: float = 0.25, long_pause: float = 0.8,
                    max_duration: float = 30.0, silences: np.ndarray | None = None
                    ) -> list[Sentence]:
    """Sentences from ASR words whose edges were aligned to measured pauses.

    ASR punctuation marks sentences in fluent speech, but in disfluent speech it also closes
    fragments ("Uh. So.") where the speaker never stopped. Here a final punctuation mark ends
    a sentence only when a pause of at least ``pause`` s follows it; a pause longer than
    ``long_pause`` s ends one anyway. With ``silences`` (the measured pause map) a pause is
    the longest measured silence between the two words, so a stretch of speech the ASR
    skipped (a gap between words, but no silence) never ends a sentence. A sentence that
    would run past ``max_duration`` s is closed at its longest pause."""
    sil = None if silences is None else np.asarray(silences, np.float64).reshape(-1, 2)

    def gap(a: Word, b: Word) -> float:
        if sil is None:
            return b.start - a.end
        lo = int(np.searchsorted(sil[:, 1], a.end - 0.05, side="left"))
        hi = int(np.searchsorted(sil[:, 0], b.start + 0.05, side="right"))
        if hi <= lo:
            return 0.0
        part = sil[lo:hi]
        return float(np.max(np.minimum(part[:, 1], b.start + 0.05)
                            - np.maximum(part[:, 0], a.end - 0.05)))

    sentences: list[Sentence] = []
    current: list[Word] = []
    gaps: list[float] = []  # the pause after each word of ``current`` but its last

    def flush(upto: int) -> None:
        part, rest = current[:upto], current[upto:]
        if part:
            text = " ".join(w.text for w in part).strip()
            sentences.append(Sentence(part[0].start, max(part[-1].end, part[0].start), text))
        current[:] = rest
        gaps[:] = gaps[upto:]

    for word in words:
        if current:
            g = gap(current[-1], word)
            if g > long_pause or (ends_sentence(current[-1].text) and g >= pause):
                flush(len(current))
            else:
                gaps.append(g)
                if word.end - current[0].start > max_duration:
                    flush(_closing_point(current, gaps, word))
        current.append(word)
    flush(len(current))
    return sentences


def _closing_point(current: list[Word], gaps: list[float], after: Word) -> int:
    """How many words of an overlong sentence ``current`` (``gaps``: the measured pause after
    each, the last one's before ``after``) close it: up to its longest measured pause; with
    none measured (a recording whose background never fell silent), up to its last final
    punctuation mark, else up to the longest gap between the recognizer's word times."""
    if max(gaps) > 0:
        return int(np.argmax(gaps)) + 1
    marks = [i for i, w in enumerate(current) if _END.search(w.text)]
    if marks:
        return marks[-1] + 1
    nexts = [w.start for w in current[1:]] + [after.start]
    return int(np.argmax([b - w.end for w, b in zip(current, nexts)])) + 1


def extend_to_speech(sents: list[Sentence], silences: np.ndarray, min_silence: float = 0.0,
                     reach: float = 1.5) -> list[Sentence]:
    """Move each sentence's edges out to the speech around it: its start back to the end of
    the pause before it, its end on to the start of the pause after it, when that pause (of
    at least ``min_silence`` s) is within ``reach`` s and no other sentence lies between.
    ASR drops short openers ("Um,", "And uh,") and trailing words and times first words
    late, so the words alone start a sentence after its speech does; the measured pause
    says where the speech really starts."""
    sil = np.asarray(silences, dtype=np.float64).reshape(-1, 2)
    sil = sil[sil[:, 1] - sil[:, 0] >= min_silence]
    if not len(sil) or not sents:
        return list(sents)
    out = []
    for i, s in enumerate(sents):
        prev_end = sents[i - 1].end if i else 0.0
        next_start = sents[i + 1].start if i + 1 < len(sents) else np.inf
        start, end = s.start, s.end
        j = int(np.searchsorted(sil[:, 1], s.start, side="right")) - 1  # last pause ending <= start
        if j >= 0 and sil[j, 1] >= max(prev_end, s.start - reach):
            start = float(sil[j, 1])
        k = int(np.searchsorted(sil[:, 0], s.end, side="left"))         # first pause starting >= end
        if k < len(sil) and sil[k, 0] <= min(next_start, s.end + reach):
            end = float(sil[k, 0])
        out.append(Sentence(start, end, s.text) if (start, end) != (s.start, s.end) else s)
    return out
