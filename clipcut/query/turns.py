"""Clips that follow the conversation: they start where a speaker's turn starts, end where
one ends, and carry the question that their first turn answers.

Works on sentence indices of one cache, with each sentence's speaker (``sent_speaker``); a
cache without speakers leaves clips as they are.
"""
from __future__ import annotations

import numpy as np

from ..cache import Index


def turn_start(speaker: np.ndarray, i: int) -> int:
    """The first sentence of the turn holding sentence ``i``."""
    while i > 0 and speaker[i - 1] == speaker[i]:
        i -= 1
    return i


def turn_end(speaker: np.ndarray, i: int) -> int:
    """The last sentence of the turn holding sentence ``i``."""
    while i + 1 < len(speaker) and speaker[i + 1] == speaker[i]:
        i += 1
    return i


def asks(text: str) -> bool:
    return text.rstrip().rstrip("\"')]").endswith("?")


def follow(idx: Index, first: int, last: int, opt) -> tuple[int, int]:
    """(first, last) sentences moved to the conversation.

    - Back to the start of the first sentence's turn when it began at most
      ``opt.turn_reach`` s earlier; when the clip would then be too long, its end moves back
      (never before the sentence it started at).
    - Back over the other speaker's question when the clip's first turn answers one that
      ended at most ``opt.question_gap`` s before the clip: from the question turn's start,
      or from its last sentences within ``turn_reach`` when that turn is longer; when that
      does not fit, the clip's end moves back while ``opt.min_len`` s of what the clip
      started with stays (else it starts at the question's last sentence, never ending
      before the sentence it started at).
    - Forward to the end of the last sentence's turn when that is within
      ``opt.snap_radius``; and back off another speaker's question that would end the clip
      (while it stays ``opt.min_len`` long).
    The clip may run up to ``opt.turn_stretch`` s past ``opt.max_len`` for these."""
    spk = idx.sent_speaker
    if len(spk) == 0 or first < 0:
        return first, last
    start, end = idx.sent_start, idx.sent_end
    limit = opt.max_len + opt.turn_stretch

    def fits(a: int, b: int) -> bool:
        return end[b] - start[a] <= limit

    def cut_to_fit(a: int) -> int:
        """The last sentence that still fits a clip starting at ``a``."""
        return int(np.searchsorted(end, start[a] + limit, "right")) - 1

    ts = turn_start(spk, first)
    if ts < first and start[first] - start[ts] <= opt.turn_reach:
        if fits(ts, last):
            first = ts
        elif cut_to_fit(ts) >= first:  # the whole turn's start over the clip's last seconds
            first, last = ts, cut_to_fit(ts)
    q = ts - 1
    if q >= 0 and spk[q] != spk[ts] and asks(str(idx.sent_text[q])) \
            and start[first] - end[q] <= opt.question_gap:
        qs = turn_start(spk, q)
        # the whole question turn, else its last sentences within turn_reach; the clip's end
        # moves back for an earlier start while min_len of what it matched stays
        starts = [qs] + [a for a in range(qs + 1, q + 1) if start[q] - start[a] <= opt.turn_reach]
        keep = min(opt.min_len, end[last] - start[first])
        take = None
        for a in starts:
            cut = last if fits(a, last) else cut_to_fit(a)
            if cut >= first and end[cut] - start[first] >= keep:
                take, last = a, cut
                break
        if take is None:  # the question and the whole clip are too long: end earlier
            cut = cut_to_fit(q)
            if cut >= first:
                take, last = q, cut
        if take is not None:
            first = take
    te = turn_end(spk, last)
    if te > last and end[te] - end[last] <= opt.snap_radius and fits(first, te):
        last = te
    # another speaker's question at the very end opens an exchange the clip leaves out
    while last > first and spk[last] != spk[last - 1] and asks(str(idx.sent_text[last])) \
            and end[last - 1] - start[first] >= opt.min_len:
        last -= 1
    return first, last


def open_at_question(idx: Index, first: int, last: int, peak: int, min_len: float,
                     head: float) -> tuple[int, int]:
    """(first, last) of a span whose best sentence (``peak``) answers another speaker's
    question inside it, opened at that question's turn when the span starts more than
    ``head`` s earlier (an exchange before it, not snapping noise); to stay ``min_len``
    long its end may take in more of the answer's turn. Unchanged when that cannot be
    done."""
    spk = idx.sent_speaker
    if len(spk) == 0 or first < 0 or not first <= peak <= last:
        return first, last
    answer = turn_start(spk, peak)
    q = answer - 1
    if q < first or spk[q] == spk[answer] or not asks(str(idx.sent_text[q])):
        return first, last
    qs, stop = turn_start(spk, q), max(turn_end(spk, peak), last)
    if idx.sent_start[qs] - idx.sent_start[first] <= head:
        return first, last
    end = last
    while idx.sent_end[end] - idx.sent_start[qs] < min_len and end < stop:
        end += 1
    if idx.sent_end[end] - idx.sent_start[qs] < min_len:
        return first, last
    return qs, end


def clip_turns(idx: Index, first: int, last: int) -> list[dict]:
    """The clip's transcript as turns: consecutive sentences of one speaker joined
    ({"speaker", "start", "end", "text"}; speaker None when the cache has no speakers)."""
    if first < 0:
        return []
    spk = idx.sent_speaker
    out: list[dict] = []
    for i in range(first, last + 1):
        who = str(spk[i]) if len(spk) else None
        text = str(idx.sent_text[i])
        if out and out[-1]["speaker"] == who:
            out[-1]["end"] = round(float(idx.sent_end[i]), 3)
            out[-1]["text"] += " " + text
        else:
            out.append({"speaker": who, "start": round(float(idx.sent_start[i]), 3),
                        "end": round(float(idx.sent_end[i]), 3), "text": text})
    return out


def clip_lines(idx: Index, first: int, last: int) -> list[dict]:
    """The clip's sentences with the timed words inside each, and their speaker when the
    recording has more than one."""
    if first < 0:
        return []
    spk, ws, we, wt = idx.sent_speaker, idx.word_start, idx.word_end, idx.word_text
    # a talk by one speaker needs no label on every line
    named = len(spk) and len(set(spk.tolist())) > 1
    out = []
    for i in range(first, last + 1):
        a, b = float(idx.sent_start[i]), float(idx.sent_end[i])
        lo, hi = np.searchsorted(ws, a - 1e-3), np.searchsorted(ws, b - 1e-3)
        out.append({"speaker": str(spk[i]) if named else None, "start": round(a, 3),
                    "end": round(b, 3), "text": str(idx.sent_text[i]),
                    "words": [[round(float(ws[k]), 3), round(float(we[k]), 3), str(wt[k])]
                              for k in range(lo, hi)]})
    return out


def speaks(idx: Index, first: int, last: int, speaker: str) -> bool:
    """Whether ``speaker`` (any case) says a sentence of the clip."""
    if first < 0 or len(idx.sent_speaker) == 0:
        return False
    said = {str(s).casefold() for s in idx.sent_speaker[first:last + 1]}
    return speaker.casefold() in said
