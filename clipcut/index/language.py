"""The spoken language of a recording: Whisper's language identification over a few pieces
of speech spread over the whole recording (so that music or silence at the start does not
decide it), or, for captions, the words of the caption text.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import ClipcutError
from ..words import FUNCTION_WORDS

PIECES = 4          # pieces of speech judged, spread over the recording
PIECE = 30.0        # seconds in each piece (what Whisper reads at a time)
MIN_SPEECH = 0.3    # a stretch between pauses shorter than this is not taken (s)
UNSURE = 0.5        # below this probability the language found is reported as unsure

# Names of the languages clipcut has been measured on, for messages.
NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian",
         "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "tr": "Turkish",
         "ru": "Russian", "ja": "Japanese", "zh": "Chinese", "la": "Latin"}


@dataclass(frozen=True)
class Language:
    code: str           # ISO 639-1, as Whisper names it ("en", "es", ...)
    probability: float  # the identifier's probability (1.0 when forced)
    source: str         # "speech", "captions" or "forced"

    @property
    def name(self) -> str:
        return name_of(self.code)


def name_of(code: str) -> str:
    """The language's English name where clipcut knows it, else its code."""
    return NAMES.get(code, code)


def check_code(code: str) -> str:
    """``code`` when Whisper knows the language; a one-line ClipcutError otherwise."""
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as known
    except ImportError:  # pragma: no cover - faster-whisper is a dependency
        known = ()
    if not re.fullmatch(r"[a-z]{2,3}", code) or (known and code not in known):
        raise ClipcutError(f"--language {code}: not a language Whisper knows; give an ISO "
                           "639-1 code such as en, es, de, fr")
    return code


def speech_pieces(duration: float, pauses: np.ndarray, n: int = PIECES,
                  length: float = PIECE) -> list[tuple[float, float]]:
    """Up to ``n`` stretches of the recording of ``length`` s, centred at even places along
    its speech (the speech laid end to end, so long music or silence is passed over); a
    recording with less speech than that gets its speech covered once. Each stretch is
    (start, end, seconds of speech in it)."""
    pauses = np.asarray(pauses, np.float64).reshape(-1, 2)
    edges = np.concatenate([[0.0], pauses.ravel(), [duration]]).reshape(-1, 2)
    speech = np.array([(a, b) for a, b in edges if b - a >= MIN_SPEECH]).reshape(-1, 2)
    if not len(speech):
        return []
    ends = np.cumsum(speech[:, 1] - speech[:, 0])
    total = float(ends[-1])
    first, last = float(speech[0, 0]), float(speech[-1, 1])
    if last - first <= n * length:
        count = max(1, int(np.ceil((last - first) / length)))
        step = (last - first) / count
        spans = [(first + i * step, first + (i + 1) * step) for i in range(count)]
    else:
        spans = []
        for i in range(n):
            at = total * (i + 0.5) / n          # this far into the speech
            k = int(np.searchsorted(ends, at))
            t = float(speech[k, 1] - (ends[k] - at))
            a = min(max(0.0, t - length / 2), max(0.0, duration - length))
            spans.append((a, min(duration, a + length)))
    return [(a, b, float(np.clip(np.minimum(speech[:, 1], b) - np.maximum(speech[:, 0], a),
                                 0, None).sum())) for a, b in spans]


def identify(model, pcm: np.ndarray, sample_rate: int,
             pieces: list[tuple[float, float, float]]) -> Language | None:
    """The language Whisper (a multilingual faster-whisper model) hears in the pieces (from
    ``speech_pieces``): each piece's language probabilities, averaged with its seconds of
    speech as weight. None when there is no speech."""
    total: Counter = Counter()
    weight = 0.0
    for a, b, speech in pieces:
        audio = pcm[int(a * sample_rate):int(b * sample_rate)]
        if speech < MIN_SPEECH or not len(audio):
            continue
        _, _, probs = model.detect_language(audio=np.ascontiguousarray(audio, np.float32))
        for code, p in probs:
            total[code] += speech * p
        weight += speech
    if not weight:
        return None
    code, score = total.most_common(1)[0]
    return Language(code, round(score / weight, 3), "speech")


_STOP = {code: frozenset(words.split()) for code, words in FUNCTION_WORDS.items()}


def from_text(text: str) -> Language | None:
    """The language of caption text from its commonest words; None when too few are known."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 8:
        return None
    hits = {code: sum(w in stop for w in words) for code, stop in _STOP.items()}
    code = max(hits, key=hits.get)
    if hits[code] < 3:
        return None
    return Language(code, round(hits[code] / max(sum(hits.values()), 1), 3), "captions")
