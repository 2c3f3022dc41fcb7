"""Stage 2's surrounding-discussion term: a span's fine score gains region_weight times how
much more than the recording's mean the sentences within `region` seconds of its centre
match the query (hand-computed on a made-up recording)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from clipcut.cache import Index
from clipcut.config import load_config
from clipcut.query.encoder import EncodedQuery
from clipcut.query.pipeline import rank_spans


def recording():
    """20 minutes of 4 s sentences; a 3-minute discussion (minutes 12-15) matches the query
    at 0.4, a stray 32 s at minute 2 at 0.9, everything else at 0.0."""
    start = np.arange(0.0, 1200.0, 4.0)
    sims = np.zeros(len(start))
    sims[(start >= 720) & (start < 900)] = 0.4
    sims[30:38] = 0.9
    emb = np.stack([sims, np.sqrt(1 - sims ** 2)] + [np.zeros(len(start))] * 6, 1)
    wins = np.array([[s, min(s + 30.0, 1200.0)] for s in np.arange(0.0, 1171.0, 15.0)])
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
    return Index({"video": "made-up.mp4", "duration": 1200.0}, arrays), sims, mids


def test_region_term_adds_the_surrounding_discussion_by_hand():
    idx, sims, mids = recording()
    q = EncodedQuery("q", np.eye(8, dtype=np.float32)[0], 5, ("q",), {"text": 1.0}, ())
    opt = replace(load_config().query, lexical_weight=0.0, region=240.0, stage1_top=200)
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
