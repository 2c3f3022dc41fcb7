"""search(): encode the query once, rank spans in every cache, select the final clips."""
from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass, replace

import numpy as np

from ..cache import Index
from ..config import QueryOptions
from ..types import Clip
from ..words import without_function_words
from . import boundaries, confidence, retrieve, select, timephrase, turns
from .encoder import EncodedQuery, normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranked:
    """A candidate span of one recording after snapping, before selection."""

    video: str
    first: int
    last: int
    start: float
    end: float
    score: float
    parts: dict
    index: Index
    own: float           # the span's own sentence similarity (no neighbours, no lexical score)
    region: float        # how much more than usual the discussion around it matches
    fitted: float        # what fitting the query to this recording (feedback, the region
                         # term) added to the score; 0 when several recordings rank
    rec: confidence.Recording  # the query's similarities in this recording


def _available_weights(weights: dict, available: dict) -> dict:
    """The query's modality weights renormalized over what this recording can score."""
    kept = {m: (weights.get(m, 0.0) if available[m] else 0.0) for m in available}
    total = sum(kept.values())
    return {m: v / total for m, v in kept.items()} if total > 0 else kept


def _window_texts(idx: Index, groups: list[np.ndarray]) -> list[str]:
    return [" ".join(idx.sent_text[g].tolist()) for g in groups]


def _region_mean(sims: np.ndarray, mids: np.ndarray, radius: float):
    """f(t): mean similarity of the sentences whose midpoint lies within ``radius`` s of t."""
    csum = np.concatenate([[0.0], np.cumsum(sims, dtype=np.float64)])

    def mean_at(t: float) -> float:
        a = int(np.searchsorted(mids, t - radius, "left"))
        b = int(np.searchsorted(mids, t + radius, "right"))
        return float((csum[b] - csum[a]) / (b - a)) if b > a else 0.0
    return mean_at


def _feedback(q: EncodedQuery, text: np.ndarray, win_emb: np.ndarray, duration: float,
              opt: QueryOptions) -> EncodedQuery:
    """Pseudo-relevance feedback (Rocchio's, on embeddings): the query vector moved toward
    the mean of its ``opt.feedback`` best windows by ``text``; else ``q`` itself. Captions
    and ASR transcripts alike (on train meetings indexed from speech it lifted NDCG@10 .433
    -> .461). Not in recordings shorter than ``opt.short``: there the best windows are a
    large part of the recording, often several of its subjects, and pull the query toward
    them (six-minute talks of twenty subjects: the right subject first for 40 of 67
    answered queries with it, 54 of 66 without)."""
    if opt.feedback <= 0 or opt.feedback_weight <= 0 or duration < opt.short:
        return q
    best = np.argsort(-text, kind="stable")[:opt.feedback]
    return replace(q, vector=normalize(q.vector + opt.feedback_weight
                                       * normalize(win_emb[best].mean(0))))


def rank_spans(idx: Index, q: EncodedQuery, opt: QueryOptions,
               prior: timephrase.TimePrior | None, top: int | None = None,
               alone: bool = True) -> list[Ranked]:
    """Stage 1 (windows) then stage 2 (best sentence span around each of the ``top`` best
    windows; default ``opt.stage1_top``). ``alone``: this recording is the only one ranked,
    so the query may be fitted to it: pseudo-relevance feedback (``_feedback``) and the
    surrounding-discussion term, which compares parts of this recording with each other
    (both off when spans of several recordings are ranked together: the term cost .005
    NDCG@10 across the validation library). Confidence signals use the query as asked."""
    wins = idx.windows
    if len(wins) == 0:
        return []
    groups = retrieve.window_sentences(wins, idx.sent_start, idx.sent_end)
    has_text = len(idx.sent_start) > 0
    win_emb, sent_emb = idx.win_text, idx.sent_emb
    if q.learned is not None and has_text:
        win_emb, sent_emb = q.learned.adapt_text(win_emb), q.learned.adapt_text(sent_emb)
    # the recording's own function words say nothing of its subject ("son" in Spanish)
    language = idx.meta.get("language", "en")
    lex = retrieve.bm25(without_function_words(q.terms, language), _window_texts(idx, groups)) \
        if has_text and opt.lexical_weight > 0 else np.zeros(len(wins))

    def text_scores(vector: np.ndarray) -> np.ndarray:
        dense = win_emb @ vector if has_text else np.zeros(len(wins))
        dense = dense + opt.lexical_weight * lex / (lex + retrieve.LEXICAL_HALF)
        return retrieve.with_context(dense, opt.context, opt.context_weight)
    text = asked_text = text_scores(q.vector)
    asked = q  # confidence judges the query as asked, not as fitted to this recording
    if alone and has_text:
        q = _feedback(q, text, win_emb, idx.duration, opt)
        if q is not asked:
            text = text_scores(q.vector)
    use_vis = q.visual is not None and idx.win_visual.shape[1] == len(q.visual)
    frame_emb, win_vis = idx.frame_emb, idx.win_visual
    if q.learned is not None and use_vis:
        frame_emb, win_vis = q.learned.adapt_visual(frame_emb), q.learned.adapt_visual(win_vis)
    vis = win_vis @ q.visual if use_vis else np.zeros(len(wins))
    use_audio = q.weights.get("audio", 0.0) > 0 and len(idx.audio_sec) > 0
    aud = q.learned.audio_windows(idx.audio_sec, wins) @ q.vector if use_audio \
        else np.zeros(len(wins))
    w = _available_weights(q.weights, {"text": has_text, "visual": use_vis, "audio": use_audio})
    w_text, w_vis, w_aud = w["text"], w["visual"], w["audio"]
    mids = wins.mean(1)
    time_adj = opt.time_weight * (timephrase.prior_weights(prior, mids, idx.duration,
                                                           opt.time_sigma) - 1)
    coarse = w_text * text + w_vis * vis + w_aud * aud + time_adj
    top = np.argsort(-coarse, kind="stable")[:min(opt.stage1_top, top or opt.stage1_top)]

    sims = sent_emb @ q.vector if has_text else np.zeros(0)
    baseline = float(np.mean(sims)) if len(sims) else 0.0
    mid_s = (idx.sent_start + idx.sent_end) / 2
    around = _region_mean(sims, mid_s, opt.region) if has_text else None
    sims0, around0, baseline0 = sims, around, baseline  # the query as asked: for confidence
    if asked is not q:
        sims0 = sent_emb @ asked.vector
        around0, baseline0 = _region_mean(sims0, mid_s, opt.region), float(np.mean(sims0))
    words = without_function_words(confidence.query_words(q.text), language)
    full = confidence.full_sentences(idx.sent_text)
    rec = confidence.recording_stats(
        sims0, " ".join(idx.sent_text.tolist()), words, idx.duration,
        confidence.cohort_stats(asked.vector, q.learned.adapt_text if q.learned else None,
                                q.space),
        confidence.word_shortfall(asked.word_vectors, idx.sent_emb, full),
        confidence.standing(asked.plain, idx.sent_emb, full),
        # a talk of a few minutes on several subjects has no one way it points: unmeasured
        confidence.profile_match(asked.plain, idx.sent_emb, full)
        if idx.duration >= opt.short else float("nan"))
    out = []
    for j in top:
        a, b = wins[j, 0] - opt.extend, wins[j, 1] + opt.extend
        members = np.flatnonzero((mid_s >= a) & (mid_s <= b)) if has_text else np.zeros(0, int)
        if len(members):
            local = sims[members]
            if q.space == "e5":
                # the multilingual encoder rates every sentence of a recording in the query's
                # language well above zero: the share is taken of how far the best stands out
                floor = baseline + opt.span_floor * max(float(local.max()) - baseline, 0.0)
            else:
                floor = max(baseline, opt.span_floor * float(local.max()))
            i0, i1, span_sim = retrieve.best_span(local, idx.sent_start[members],
                                                  idx.sent_end[members], opt.min_len,
                                                  opt.max_len, floor)
            first, last = int(members[i0]), int(members[i1])
            start, end = float(idx.sent_start[first]), float(idx.sent_end[last])
            fine_text = (1 - opt.span_weight) * text[j] + opt.span_weight * span_sim
            term = opt.region_weight * (around((start + end) / 2) - baseline) if alone else 0.0
            near = around0((start + end) / 2) - baseline0
            asked_fine = (1 - opt.span_weight) * asked_text[j] \
                + opt.span_weight * float(sims0[first:last + 1].mean())
            added = w_text * (fine_text + term - asked_fine)
            fine_text += term
        else:
            first = last = -1
            start, end = float(wins[j, 0]), float(wins[j, 1])
            fine_text = float(text[j])
            span_sim = near = 0.0
            added = w_text * float(text[j] - asked_text[j])
        vis_span = vis[j]
        if use_vis and len(idx.frame_times):
            inside = (idx.frame_times >= start) & (idx.frame_times < end)
            if inside.any():
                vis_span = float(np.mean(frame_emb[inside] @ q.visual))
        parts = {"text": w_text * float(fine_text), "visual": w_vis * float(vis_span),
                 "audio": w_aud * float(aud[j])}
        tprior = opt.time_weight * (timephrase.prior_weights(
            prior, np.array([(start + end) / 2]), idx.duration, opt.time_sigma)[0] - 1)
        out.append(Ranked(idx.meta["video"], first, last, start, end,
                          sum(parts.values()) + float(tprior), parts, idx, float(span_sim),
                          float(near), float(added), rec))
    return out


def _snap(r: Ranked, opt: QueryOptions) -> tuple[Ranked, Ranked]:
    """Snap to sentence boundaries, resolve a referring opener, follow the conversation, pad
    into pauses; also the clip's own part (its sentences and times before the
    conversation's turn starts and questions were taken in)."""
    idx = r.index
    if r.first < 0:
        return r, r
    w = boundaries.SnapWeights(opt.snap_sentence, opt.snap_scene, opt.snap_silence,
                               opt.snap_distance, opt.snap_radius)
    peak = r.first + int(np.argmax(r.rec.sims[r.first:r.last + 1]))  # never snapped away
    first, last = boundaries.snap(r.first, r.last, idx.sent_start, idx.sent_end, idx.scenes,
                                  idx.silences, w, opt.min_len, opt.max_len, keep=peak)
    first, last = boundaries.grow(first, last, idx.sent_start, idx.sent_end, opt.min_len,
                                  opt.max_len)
    score = r.score
    if select.opens_with_reference(str(idx.sent_text[first])):
        prev_gap = idx.sent_start[first] - idx.sent_end[first - 1] if first > 0 else np.inf
        if prev_gap < 3.0 and idx.sent_end[last] - idx.sent_start[first - 1] <= opt.max_len + opt.snap_radius:
            first -= 1
        else:
            score -= opt.reference_penalty
    if opt.question_gap > 0:  # the question rules are on
        first, last = turns.open_at_question(idx, first, last, peak, opt.min_len,
                                             opt.snap_radius)
    own = replace(r, first=first, last=last, start=float(idx.sent_start[first]),
                  end=float(idx.sent_end[last]))
    first, last = turns.follow(idx, first, last, opt)
    start, end = boundaries.pad(float(idx.sent_start[first]), float(idx.sent_end[last]), first,
                                last, idx.sent_start, idx.sent_end, opt.pad, idx.duration)
    start, end = boundaries.widen(start, end, opt.min_len, idx.duration)
    return replace(r, first=first, last=last, start=start, end=end, score=score), own


def text_space(idx: Index) -> str:
    """The text space a recording was embedded in: "minilm", or "e5" (the multilingual
    encoder, for speech in other languages)."""
    return idx.meta.get("text_encoder", "minilm")


def calibration_of(r: Ranked, opt: QueryOptions) -> str:
    """Which calibration judges a span's clips: its text space's, or for a recording in the
    multilingual space shorter than ``opt.short`` the one fitted on talks of that kind
    ("e5-short"): the multilingual one is fitted on hour-long English meetings."""
    space = text_space(r.index)
    return "e5-short" if space == "e5" and r.index.duration < opt.short else space


def floor_of(r: Ranked, opt: QueryOptions) -> float:
    """The confidence floor of a span's recording: each text space's calibration chose its
    own on train (the share of real questions left without a clip)."""
    return opt.min_confidence_other if text_space(r.index) == "e5" else opt.min_confidence


def stands_out(r: Ranked, z: float, best_z: float | None, opt: QueryOptions) -> bool:
    """Whether a clip of a recording shorter than ``opt.short`` stands out from the
    recording's usual match to the query (``z``: the confidence signal ``own_z``) at least
    ``opt.short_stand_out`` as far as the best of its clips before it (``best_z``; None for
    its first clip, which sets the scale; always true for longer recordings). The confidence
    is fitted on meetings of 8 minutes and more, where the clips around an answer are often
    part of it; in a talk of a few minutes on several subjects they are another subject, at
    the same confidence."""
    if best_z is None or r.index.duration >= opt.short or opt.short_stand_out <= 0:
        return True
    return z > 0 and z >= opt.short_stand_out * best_z


def _span_vector(r: Ranked) -> np.ndarray | None:
    """The normalized mean embedding of a span's sentences (None without any)."""
    return normalize(r.index.sent_emb[r.first:r.last + 1].mean(0)) if r.first >= 0 else None


@dataclass(frozen=True)
class Chosen:
    """A selected span with its confidence signals (``confidence.SIGNALS``) and confidence
    (nan without a calibrator); ``carried`` when its own sentences match too little
    (``relative_own``) and it only fills a list that asked for every clip."""

    ranked: Ranked
    text: str
    signals: np.ndarray
    confidence: float
    carried: bool = False
    weak: bool = False   # left out of the default output (under the floor, or ``stands_out``)


def choose(ranked: list[Ranked], opt: QueryOptions, n: int,
           calibrator: confidence.Calibrator | dict | None, keep_weak: bool = False,
           speaker: str = "", fill: bool = False) -> list[Chosen]:
    """The clips of ``_choose`` (below). Spans of recordings in different text spaces
    (English, other languages: two encoders) are chosen in each space apart, since their
    scores and sentence vectors do not compare; the lists are then merged by confidence,
    each calibrated in its own space, every list keeping its own order."""
    spaces: dict[str, list[Ranked]] = {}
    for r in ranked:
        spaces.setdefault(text_space(r.index), []).append(r)
    if len(spaces) < 2:
        return _choose(ranked, opt, n, calibrator, keep_weak, speaker, fill)
    lists = [_choose(rs, opt, n, calibrator, keep_weak, speaker, fill)
             for _, rs in sorted(spaces.items())]
    merged = heapq.merge(*lists, key=lambda c: -(c.ranked.score if np.isnan(c.confidence)
                                                 else c.confidence))
    return list(itertools.islice(merged, n))


def _choose(ranked: list[Ranked], opt: QueryOptions, n: int,
            calibrator: confidence.Calibrator | dict | None, keep_weak: bool = False,
            speaker: str = "", fill: bool = False) -> list[Chosen]:
    """Best-first: snap each span, drop overlapping, repeated, (unless ``keep_weak``)
    unconfident ones and (with ``speaker``) those that speaker has no say in; keep ``n``.
    A span whose own sentences match under ``relative_own`` of the best span's counts only
    when its sentences are within ``continuity`` (cosine) of that span's: the discussion
    going on, not a neighbouring subject. With ``fill`` (and ``keep_weak``), a list still
    short of ``n`` is filled with the others, marked ``carried`` (chosen after the rest,
    listed by score as they are).
    ``calibrator`` may map text spaces ("minilm", "e5") to their calibrations, and "e5-short"
    to the one for short recordings in the multilingual space (``calibration_of``)."""
    ranked = sorted(ranked, key=lambda r: (-r.score, r.video, r.start))
    best_own = max((r.own for r in ranked), default=0.0)
    best_z: dict[str, float] = {}  # per recording: how far its clips so far stand out
    own_floor = opt.relative_own * best_own if best_own > 0 else -np.inf  # as for the score
    kept: list[Chosen] = []
    spans: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {}
    vecs: list[np.ndarray] = []

    def take(r: Ranked, carried: bool) -> None:
        r, own_part = _snap(r, opt)
        own = (own_part.start, own_part.end)
        if speaker and not turns.speaks(r.index, r.first, r.last, speaker):
            return
        if select.repeats(own, (r.start, r.end), spans.get(r.video, []), opt.nms_overlap):
            return
        # compared on what the clip matched, not the question or turn start it took in
        vec = _span_vector(own_part)
        if vec is not None and select.is_duplicate(vec, vecs, opt.dedup_cosine):
            return
        text = " ".join(r.index.sent_text[r.first:r.last + 1].tolist()) if r.first >= 0 else ""
        x = confidence.signals(r.rec, r.first, r.last, r.score - r.fitted, r.region, text)
        cal = calibrator.get(calibration_of(r, opt)) if isinstance(calibrator, dict) \
            else calibrator
        p = float(cal.probability(x)[0]) if cal is not None else float("nan")
        z = float(x[confidence.SIGNALS.index("own_z")])
        weak = carried or p < floor_of(r, opt) or not stands_out(r, z, best_z.get(r.video), opt)
        best_z[r.video] = max(best_z.get(r.video, z), z)
        if weak and not keep_weak:
            return
        kept.append(Chosen(r, text, x, p, carried, weak))
        spans.setdefault(r.video, []).append((own, (r.start, r.end)))
        if vec is not None:
            vecs.append(vec)

    # a span whose own sentences match too little is carried by its neighbours' scores,
    # unless its sentences go on with the subject of the best-matching span
    top = max(ranked, key=lambda r: r.own) if ranked else None
    ref = _span_vector(top) if top is not None else None

    def counts(r: Ranked) -> bool:
        if r.own >= own_floor:
            return True
        v = _span_vector(r)
        return ref is not None and v is not None and r.video == top.video \
            and float(v @ ref) >= opt.continuity

    main: list[Ranked] = []
    low: list[Ranked] = []
    for r in ranked:
        (main if counts(r) else low).append(r)
    for r in main:
        if len(kept) == n:
            break
        take(r, False)
    for r in low if fill and keep_weak else []:
        if len(kept) == n:
            break
        take(r, True)
    kept.sort(key=lambda c: (-c.ranked.score, c.ranked.video, c.ranked.start))
    return kept


def _evidence(c: Chosen) -> dict:
    """The sentence that matched best and the query words found in the clip."""
    r = c.ranked
    if r.first < 0:
        return {}
    best = r.first + int(np.argmax(r.rec.sims[r.first:r.last + 1]))
    return {"sentence": str(r.index.sent_text[best]),
            "sentence_start": round(float(r.index.sent_start[best]), 3),
            "words": confidence.words_in(r.rec.words, c.text)}


def select_clips(ranked: list[Ranked], opt: QueryOptions, n: int,
                 calibrator: confidence.Calibrator | dict | None = None,
                 keep_weak: bool = False, speaker: str = "") -> list[Clip]:
    """The final clips, best first, each with its confidence, evidence and turns; clips under
    ``opt.min_confidence`` are dropped, or kept and marked weak with ``keep_weak``; with
    ``speaker``, only clips in which that speaker talks."""
    clips = []
    for rank, c in enumerate(choose(ranked, opt, n, calibrator, keep_weak, speaker,
                                    fill=keep_weak), 1):
        r = c.ranked
        clips.append(Clip(video=r.video, start=r.start, end=r.end, score=r.score, text=c.text,
                          modality=dict(r.parts), rank=rank,
                          confidence=None if np.isnan(c.confidence) else c.confidence,
                          weak=c.weak,
                          evidence=_evidence(c),
                          turns=turns.clip_turns(r.index, r.first, r.last),
                          lines=turns.clip_lines(r.index, r.first, r.last)))
    return clips
