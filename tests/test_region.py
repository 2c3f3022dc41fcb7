"""Stage 2 fitted to one recording, hand-computed on made-up recordings: the
surrounding-discussion term (a span's fine score gains region_weight times how much more
than the recording's mean the sentences within `region` seconds of its centre match the
query) and pseudo-relevance feedback (the query vector moves toward its best windows)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from clipcut.cache import Index
from clipcut.config import load_config
from clipcut.query.encoder import EncodedQuery
from clipcut.query.pipeline import rank_spans


def made_up(emb: np.ndarray, duration: float = 1200.0) -> Index:
    """A text-only index of 4 s sentences with these (unit) embeddings, 30 s windows every
    15 s embedded as the normalized mean of their sentences."""
    start = np.arange(len(emb)) * 4.0
    wins = np.array([[s, min(s + 30.0, duration)] for s in np.arange(0.0, duration - 29.0, 15.0)])
    mids = start + 2.0
    win_text = np.stack([emb[(mids >= a) & (mids < b)].mean(0) for a, b in wins])
    win_text /= np.linalg.norm(win_text, axis=1, keepdims=True)
    arrays = {"sent_start": start, "sent_end": start + 4.0,
              "sent_text": np.array([f"s{i}" for i in range(len(start))]),
              "sent_emb": emb.astype(np.float32), "windows": wins,
              "win_text": win_text.astype(np.float32),
              "win_visual": np.zeros((len(wins), 0), np.float32),
              "win_audio": np.zeros((len(wins), 0), np.float32), "frame_times": np.zeros(0),
              "frame_emb": np.zeros((0, 0), np.float32), "audio_sec": np.zeros((0, 0), np.float32),
              "silences": np.zeros((0, 2)), "scenes": np.zeros(0)}
    return Index({"video": "made-up.mp4", "duration": duration}, arrays)


def recording():
    """20 minutes of 4 s sentences; a 3-minute discussion (minutes 12-15) matches the query
    at 0.4, a stray 32 s at minute 2 at 0.9, everything else at 0.0."""
    start = np.arange(0.0, 1200.0, 4.0)
    sims = np.zeros(len(start))
    sims[(start >= 720) & (start < 900)] = 0.4
    sims[30:38] = 0.9
    emb = np.stack([sims, np.sqrt(1 - sims ** 2)] + [np.zeros(len(start))] * 6, 1)
    return made_up(emb), sims, start + 2.0


def query(vector) -> EncodedQuery:
    return EncodedQuery("q", np.asarray(vector, np.float32), 5, ("q",), {"text": 1.0}, ())


def test_region_term_adds_the_surrounding_discussion_by_hand():
    idx, sims, mids = recording()
    q = query(np.eye(8)[0])
    opt = replace(load_config().query, lexical_weight=0.0, region=240.0, stage1_top=200,
                  feedback=0)
    off = {(r.first, r.last): r.score for r in rank_spans(idx, q, replace(opt, region_weight=0.0),
                                                          None)}
    on = {(r.first, r.last): r.score for r in rank_spans(idx, q, replace(opt, region_weight=4.0),
                                                         None)}
    assert off.keys() == on.keys()
    for (first, last), score in off.items():
        centre = (idx.sent_start[first] + idx.sent_end[last]) / 2
        near = sims[np.abs(mids - centre) <= 240.0].mean()
        assert on[(first, last)] - score == pytest.approx(4.0 * (near - sims.mean()), abs=1e-5)
    # the stray moment's span beats the discussion's without the term, not with it
    stray = max((k for k in off if k[0] <= 33 <= k[1]), key=off.get)
    talk = max((k for k in off if k[0] >= 180 and k[1] < 225), key=off.get)
    assert off[stray] > off[talk] and on[stray] < on[talk]


def test_feedback_finds_the_discussion_in_other_words_by_hand():
    """Minutes 10-12 name the query's subject (0.6 e0 + 0.8 e1: e1 is how this recording
    talks about it); minutes 5-6 discuss it without naming it (e1 alone); the rest is about
    something else (e2). The query is e0. Feedback from the 5 best windows (all inside
    minutes 10-12, so their mean is 0.6 e0 + 0.8 e1) gives q' = (1.6 e0 + 0.8 e1) / |.|, so
    the unnamed discussion's sentences match at 0.8 / sqrt(1.6^2 + 0.8^2) instead of 0."""
    e = np.eye(8)
    emb = np.tile(e[2], (300, 1))
    emb[75:90] = e[1]
    emb[150:180] = 0.6 * e[0] + 0.8 * e[1]
    idx = made_up(emb)
    opt = replace(load_config().query, lexical_weight=0.0, stage1_top=200, region_weight=0.0,
                  feedback_weight=1.0, feedback=5)

    def own(ranked, a, b):  # the best own similarity of spans inside sentences a..b
        return max(r.own for r in ranked if a <= r.first and r.last < b)

    fed = rank_spans(idx, query(e[0]), opt, None)
    plain = rank_spans(idx, query(e[0]), replace(opt, feedback=0), None)
    several = rank_spans(idx, query(e[0]), opt, None, alone=False)
    short = made_up(emb[:60], 240.0)  # under [query] short: the best 5 windows are a third of it
    assert [(r.first, r.last, r.score) for r in rank_spans(short, query(e[0]), opt, None)] == \
        [(r.first, r.last, r.score) for r in rank_spans(short, query(e[0]),
                                                        replace(opt, feedback=0), None)]
    heard = made_up(emb)
    heard.meta["captions"] = "asr"
    from_speech = rank_spans(heard, query(e[0]), opt, None)
    assert own(plain, 75, 90) == pytest.approx(0.0, abs=1e-6)
    assert own(fed, 75, 90) == pytest.approx(0.8 / np.hypot(1.6, 0.8), abs=1e-5)
    assert own(fed, 200, 300) == pytest.approx(0.0, abs=1e-6)
    assert own(fed, 150, 180) == pytest.approx((0.6 * 1.6 + 0.8 * 0.8) / np.hypot(1.6, 0.8),
                                               abs=1e-5)
    # ranked with other recordings, the query is not fitted to this one
    assert [(r.first, r.last, r.score) for r in several] == \
        [(r.first, r.last, r.score) for r in plain]
    # a transcript from speech recognition is fitted the same way (chosen on train
    # meetings indexed from speech)
    assert [(r.first, r.last, r.score) for r in from_speech] == \
        [(r.first, r.last, r.score) for r in fed]
