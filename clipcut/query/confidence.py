"""Calibrated confidence: the probability that a clip is relevant (at least half of it inside
a span that answers the query), from what the ranker knows about the clip, its recording and
the query. A logistic model over a few standardized signals, fitted on qmsum-train by
``scripts/train_confidence.py`` and shipped in ``clipcut/weights/confidence.json``.

The signals do not depend on what else was ranked (no rank, no share of the best clip), so a
clip gets the same confidence whether one recording or a whole library was searched, and
clips of different recordings compare fairly.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..words import spelling, tokens
from .encoder import query_words  # noqa: F401  (re-exported: the words signals and evidence count)

PACKAGED = Path(__file__).resolve().parent.parent / "weights" / "confidence.json"
# The same model fitted in the multilingual encoder's space (recordings in other languages).
PACKAGED_MULTILINGUAL = PACKAGED.with_name("confidence-e5.json")
# ... and for recordings in that space shorter than ``[query] short``, fitted on generated
# talks in other languages (``scripts/train_talk_confidence.py``).
PACKAGED_MULTILINGUAL_SHORT = PACKAGED.with_name("confidence-e5-short.json")
# A cohort of 2,106 sentences of qmsum-train meetings (13 per meeting, 6 words or more; MiniLM
# embeddings, fp16): how well the query matches ordinary meeting talk, to judge how far above
# that the recording's best match stands (cohort score normalization).
COHORT = PACKAGED.with_name("cohort.npy")
# How much farther than ordinary meeting talk the recording may stay from the query's words
# before ``word_shortfall`` counts it (chosen on train among 0-0.1: most off-topic questions
# refused at 3 % of real ones left without a clip; README, "Calibrated confidence").
SHORTFALL_MARGIN = 0.075
# The cohort's sentences have 6 words or more; ``word_shortfall`` takes the recording's nearest
# sentence among the same kind. A lone query word embedded by itself comes as near a one-word
# fragment ("Riot.", "Finance?") as a sentence about it, and an hour of meeting holds hundreds.
COHORT_MIN_WORDS = 6
# ``standing`` compares the recording's best 2 % of full sentences (at least 5) and best 4 % of
# all its sentences (at least 10) with as many of the cohort's: a share, so a talk of a few
# minutes is judged by its few best sentences and an hour-long meeting by its best dozen or
# two (chosen on train meetings and the short talks written for choosing; README)
LONG_SHARE, LONG_MIN = 0.02, 5
BROAD_SHARE, BROAD_MIN = 0.04, 10

# Every signal computed for a clip; a calibration names the ones it uses.
SIGNALS = ("base", "region", "own", "peak", "own_z", "peak_z", "peak_gap", "mean",
           "lexical", "coverage", "n_terms", "log_duration", "cohort_z", "cohort_gap",
           "word_shortfall", "long_peak", "broad_match", "profile_match")


def stem(word: str) -> str:
    """A crude stem for matching query words in transcripts (``prices`` ~ ``price`` ~
    ``priced``): in one English spelling (``words.spelling``), a common ending and a final e
    dropped, at most 7 letters kept."""
    word = spelling(word)
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[:-len(suffix)]
            break
    return (word[:-1] if len(word) > 3 and word.endswith("e") else word)[:7]


def stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in tokens(text))


def words_in(words: tuple[str, ...], text: str) -> list[str]:
    """The query words (by crude stem) that occur in ``text``."""
    found = stems(text)
    return [w for w in words if stem(w) in found]


@dataclass
class Recording:
    """Per query and recording: the sentence similarities and what is known about them."""

    sims: np.ndarray        # query similarity of every sentence
    mean: float
    std: float
    top: float              # the best sentence similarity in the recording
    coverage: float         # share of the query words found anywhere in the recording
    duration: float
    words: tuple[str, ...]
    cohort: tuple[float, float, float]  # mean, std and 99th percentile of the cohort's
    #                                      similarities to the query
    word_shortfall: float = 0.0  # how far the recording stays from the query's words
    standing: tuple[float, float] = (0.0, 0.0)  # (long_peak, broad_match): ``standing``
    profile_match: float = 0.0  # ``profile_match``


# The same kind of cohort in the multilingual encoder's (centred) space.
MULTILINGUAL_COHORT = PACKAGED.with_name("multilingual.npz")


@functools.lru_cache(maxsize=4)
def _cohort(adapt, space: str = "minilm") -> np.ndarray:
    where = MULTILINGUAL_COHORT if space == "e5" else COHORT
    try:
        if space == "e5":
            with np.load(where) as fit:
                raw = fit["cohort"].astype(np.float32)
        else:
            raw = np.load(where).astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot read the confidence cohort {where}: {exc}; reinstall "
                         "clipcut") from None
    return adapt(raw) if adapt is not None else raw


def cohort_stats(vector: np.ndarray, adapt=None, space: str = "minilm"
                 ) -> tuple[float, float, float]:
    """(mean, std, 99th percentile) of the query's similarity to the cohort sentences, as
    the recording's sentences are embedded (``adapt``: the trained text adapter; ``space``:
    the text encoder, "minilm" or the multilingual "e5")."""
    cohort = _cohort(adapt, space)
    if cohort.shape[1] != len(vector):  # another text model: no cohort (nor calibration) for it
        return 0.0, 1.0, 0.0
    sims = cohort @ vector
    return float(sims.mean()), float(max(sims.std(), 1e-3)), float(np.percentile(sims, 99))


def full_sentences(sent_text) -> np.ndarray:
    """Which sentences are of the cohort's kind (``COHORT_MIN_WORDS`` words or more, counted
    by whitespace); all of them when none is. Computed once per recording and query, for
    ``word_shortfall`` and ``standing``."""
    long = np.array([len(str(t).split()) >= COHORT_MIN_WORDS for t in sent_text], bool)
    return long if long.any() else np.ones(len(long), bool)


def word_shortfall(word_vectors: np.ndarray | None, sent_emb: np.ndarray,
                   full: np.ndarray | None = None) -> float:
    """How far the recording stays from the query's words: for each word, how much nearer
    its nearest sentence here comes than the nearest of as many sentences of ordinary
    meeting talk (the cohort's 1 - 1/(n + 1) quantile of similarity, for n sentences);
    averaged over the words; what falls more than ``SHORTFALL_MARGIN`` short (0 when the
    recording comes about as near as ordinary talk, or nearer). A question taken from
    another kind of meeting names things this recording never comes near ("the remote
    control" in a research meeting); a paraphrase still comes near in meaning where its
    words are never heard. 0 without words or sentences, or in another space than the
    cohort's. ``word_vectors`` and ``sent_emb``: plain sentence embeddings (unit rows), not
    adapted. With ``full`` (``full_sentences``), only those sentences count, as the cohort
    holds only sentences of that kind."""
    if word_vectors is None or not len(word_vectors) or not len(sent_emb):
        return 0.0
    if full is not None:
        sent_emb = sent_emb[full]
    cohort = _cohort(None)
    if cohort.shape[1] != word_vectors.shape[1] or sent_emb.shape[1] != word_vectors.shape[1]:
        return 0.0
    nearest = (word_vectors @ sent_emb.T).max(1)
    usual = np.quantile(word_vectors @ cohort.T, 1.0 - 1.0 / (len(sent_emb) + 1), axis=1)
    return max(0.0, -float(np.mean(nearest - usual)) - SHORTFALL_MARGIN)


def _best_of(sims: np.ndarray, usual: np.ndarray, k: int) -> float:
    """The mean of the ``k`` highest of ``sims`` less what the ``k`` highest of as many
    cohort sentences would average (the cohort's quantiles at 1 - (i + 1/2) / n)."""
    k = min(k, len(sims))
    expected = np.quantile(usual, 1.0 - (np.arange(k) + 0.5) / len(sims)).mean()
    return float(np.sort(sims)[::-1][:k].mean() - expected)


def _plain_cohort(plain: np.ndarray | None, sent_emb: np.ndarray) -> np.ndarray | None:
    """The cohort, when the plain query vector and the sentences are in its space (None
    without a plain vector or sentences, or in another space)."""
    if plain is None or not len(sent_emb):
        return None
    cohort = _cohort(None)
    return cohort if cohort.shape[1] == len(plain) == sent_emb.shape[1] else None


def standing(plain: np.ndarray | None, sent_emb: np.ndarray, full: np.ndarray
             ) -> tuple[float, float]:
    """How the recording's best sentences stand against as many sentences of ordinary
    meeting talk (the cohort), for the query as a whole: ``long_peak``, its best 2 % of
    sentences of the cohort's kind (at least 5) against the best of as many cohort
    sentences, and ``broad_match``, its best 4 % of all sentences (at least 10) the same way
    (mean similarities). A question about this recording has full sentences well above
    ordinary talk; one from another kind of meeting whose words collide with this one
    ("product cost" in a hearing on university finances) comes up in many sentences at
    once, fragments among them ("Finance?"). (0, 0) without a plain query vector or
    sentences, or in another space than the cohort's. Plain embeddings (unit rows), not
    adapted; ``full``: ``full_sentences``."""
    cohort = _plain_cohort(plain, sent_emb)
    if cohort is None:
        return 0.0, 0.0
    usual = cohort @ plain
    sims = sent_emb @ plain
    long = sims[full]
    return (_best_of(long, usual, max(LONG_MIN, round(LONG_SHARE * len(long)))),
            _best_of(sims, usual, max(BROAD_MIN, round(BROAD_SHARE * len(sims)))))


def profile_match(plain: np.ndarray | None, sent_emb: np.ndarray, full: np.ndarray
                  ) -> float:
    """Whether the query points where the recording as a whole points, among the ways
    ordinary meeting talk varies: the correlation, over the cohort's sentences, of their
    similarities to the query and to the recording's mean full sentence (``full``:
    ``full_sentences``, all of them when none is full). A question about this recording, or
    about what such recordings discuss, leans toward the same cohort sentences as the
    recording does; one from another kind of meeting whose words collide with a few of its
    sentences leans elsewhere. How
    much a query sounds like meeting talk at all (its mean similarity to the cohort) is taken
    out, so this is no prior on the kind of question. 0 without a plain query vector or
    sentences, or in another space than the cohort's."""
    cohort = _plain_cohort(plain, sent_emb)
    if cohort is None:
        return 0.0
    to_query, to_recording = cohort @ plain, cohort @ sent_emb[full].mean(0)
    return float(np.corrcoef(to_query, to_recording)[0, 1]) \
        if to_query.std() > 0 and to_recording.std() > 0 else 0.0


def recording_stats(sims: np.ndarray, transcript: str, words: tuple[str, ...],
                    duration: float, cohort: tuple[float, float, float],
                    shortfall: float = 0.0,
                    stand: tuple[float, float] = (0.0, 0.0),
                    profile: float = 0.0) -> Recording:
    # a query without content words ("summarize the meeting") misses none of them
    coverage = len(words_in(words, transcript)) / len(words) if words else 1.0
    return Recording(sims, float(np.mean(sims)) if len(sims) else 0.0,
                     float(np.std(sims)) if len(sims) else 0.0,
                     float(np.max(sims)) if len(sims) else 0.0, coverage, duration, words,
                     cohort, shortfall, stand, profile)


def signals(rec: Recording, first: int, last: int, base: float, region: float, text: str
            ) -> np.ndarray:
    """The signal vector (``SIGNALS`` order) of the clip spanning sentences first..last."""
    span = rec.sims[first:last + 1] if first >= 0 else np.zeros(1)
    own, peak = float(np.mean(span)), float(np.max(span))
    spread = max(rec.std, 1e-3)
    lexical = len(words_in(rec.words, text)) / len(rec.words) if rec.words else 1.0
    return np.array([base, region, own, peak, (own - rec.mean) / spread,
                     (peak - rec.mean) / spread, peak - rec.top, rec.mean, lexical,
                     rec.coverage, math.log1p(len(rec.words)),
                     math.log(max(rec.duration, 1.0) / 60.0),
                     (peak - rec.cohort[0]) / rec.cohort[1], peak - rec.cohort[2],
                     rec.word_shortfall, *rec.standing, rec.profile_match],
                    dtype=np.float64)


@dataclass(frozen=True)
class Calibrator:
    """Logistic regression over the standardized ``features`` (names from ``SIGNALS``)."""

    features: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    provenance: dict

    def probability(self, signals: np.ndarray) -> np.ndarray:
        """P(relevant) of each row of ``signals`` (all of ``SIGNALS``, in order); a signal
        not measured (nan) counts as its average on train."""
        x = np.atleast_2d(signals)[:, [SIGNALS.index(f) for f in self.features]]
        x = np.where(np.isnan(x), self.center, x)
        return 1.0 / (1.0 + np.exp(-(((x - self.center) / self.scale) @ self.coef + self.bias)))


def save(path: Path, features, center, scale, coef, bias: float, provenance: dict) -> None:
    doc = {"features": list(features), "center": [float(v) for v in center],
           "scale": [float(v) for v in scale], "coef": [float(v) for v in coef],
           "bias": float(bias), "provenance": provenance}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


@functools.lru_cache(maxsize=4)
def load(path: str = "") -> Calibrator:
    """The calibration at ``path`` (empty: the one shipped in the package)."""
    where = Path(path) if path else PACKAGED
    try:
        doc = json.loads(where.read_text())
        arrays = [np.asarray(doc[k], dtype=np.float64) for k in ("center", "scale", "coef")]
        bias = float(doc["bias"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the confidence calibration {where}: {exc}; reinstall "
                         "clipcut") from None
    features = tuple(doc.get("features") or ())
    if not features or not set(features) <= set(SIGNALS) \
            or any(a.shape != (len(features),) for a in arrays) \
            or not all(np.all(np.isfinite(a)) for a in arrays) or np.any(arrays[1] <= 0):
        raise ModelError(f"the confidence calibration {where} does not fit this clipcut "
                         "(features differ); reinstall clipcut")
    return Calibrator(features, *arrays, bias, doc.get("provenance", {}))
