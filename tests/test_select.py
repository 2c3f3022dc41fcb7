import numpy as np

from clipcut.query.select import is_duplicate, opens_with_reference, repeats


def test_overlap_of_own_parts_is_measured_on_the_shorter_clip():
    kept = [((0.0, 30.0), (0.0, 30.0))]
    assert not repeats((25.0, 60.0), (25.0, 60.0), kept, 0.3)  # 5 s of 30 s
    assert repeats((20.0, 50.0), (20.0, 50.0), kept, 0.3)      # 10 s of 30 s
    assert repeats((10.0, 15.0), (10.0, 15.0), kept, 0.3)      # inside
    assert not repeats((30.0, 40.0), (30.0, 40.0), kept, 0.3)  # touching


def test_context_taken_in_does_not_make_a_repeat():
    # the kept clip's own part starts at 100 s; it took in the question from 88 s
    kept = [((100.0, 130.0), (88.0, 130.0))]
    # a neighbour whose own part ends where the kept clip's own part starts: kept (before,
    # 12 of its 26 s lay in the kept clip's 88-130 s, over 0.3 of the shorter: dropped)
    assert not repeats((74.0, 100.0), (74.0, 100.0), kept, 0.3)
    # one whose own part lies mostly inside what the kept clip already shows: a repeat
    assert repeats((86.0, 98.0), (86.0, 98.0), kept, 0.3)
    # one that took in most of the kept clip's own part as its context: a repeat
    assert repeats((131.0, 150.0), (110.0, 150.0), kept, 0.3)


def test_dedup_by_cosine():
    a = np.array([1.0, 0.0])
    b = np.array([0.8, 0.6])   # cos 0.8
    c = np.array([0.9, np.sqrt(1 - 0.81)])  # cos 0.9
    assert not is_duplicate(b, [a], 0.85)
    assert is_duplicate(c, [a], 0.85)
    assert not is_duplicate(np.zeros(2), [a], 0.85)


def test_unresolved_openers():
    assert opens_with_reference("Yes, that's exactly right.")
    assert opens_with_reference("That is the point.")
    assert not opens_with_reference("The price is too high.")
    assert not opens_with_reference("Thatcher was prime minister.")


def test_near_duplicates_are_judged_on_what_each_clip_matched(monkeypatch):
    """The same long question asked twice, answered differently: each clip takes its
    question in (snapping is stubbed here to do just that), so their whole transcripts look
    alike (cosine 0.9, over the 0.85 of `dedup_cosine`); what each matched differs, so both
    stay. A third clip matching what the first did is a near-duplicate."""
    from dataclasses import replace

    from clipcut.config import load_config
    from clipcut.query import confidence, pipeline

    from .test_region import made_up

    e = np.eye(8, dtype=np.float32)
    # 0-5: the question, 6-7: answer X; 8-13: the question again, 14-15: answer Y;
    # 20-21: X said again later; the rest about something else
    emb = np.stack([e[0]] * 6 + [e[1]] * 2 + [e[0]] * 6 + [e[2]] * 2 + [e[3]] * 4
                   + [e[1]] * 2 + [e[3]] * 278)
    idx = made_up(emb)
    rec = confidence.recording_stats(np.zeros(len(emb)), "", (), idx.duration, (0.0, 1.0, 0.0))

    def ranked(first, last, score):
        return pipeline.Ranked("made-up.mp4", first, last, float(idx.sent_start[first]),
                               float(idx.sent_end[last]), score, {}, idx, 1.0, 0.0, 0.0, rec)
    own = {6: ranked(6, 7, 0.9), 14: ranked(14, 15, 0.8), 20: ranked(20, 21, 0.7)}
    taken_in = {6: 0, 14: 8, 20: 20}  # each clip's first sentence once its question is in

    def snap(r, opt):
        first = taken_in[r.first]
        return replace(r, first=first, start=float(idx.sent_start[first])), r
    monkeypatch.setattr(pipeline, "_snap", snap)
    whole = [pipeline._span_vector(snap(own[f], None)[0]) for f in (6, 14)]
    assert float(whole[0] @ whole[1]) > load_config().query.dedup_cosine
    kept = pipeline.choose(list(own.values()), load_config().query, 10, None)
    assert [(c.ranked.first, c.ranked.last) for c in kept] == [(0, 7), (8, 15)]


def test_recordings_in_two_text_spaces_are_chosen_apart_and_merged_by_confidence(monkeypatch):
    """A folder holding an English recording and one in another language: their scores
    come from two encoders. The other-language spans match their sentences at 0.9, the
    English ones at 0.2; judged together, the English spans would fall under
    ``relative_own`` of the other recording's best and drop out, and score order would put
    them last. Chosen in each space apart, both stay, merged by each space's calibrated
    confidence (here the English clips are the surer ones), each list in its own order."""
    from clipcut.cache import Index
    from clipcut.config import load_config
    from clipcut.query import confidence, pipeline

    from .test_region import made_up

    e = np.eye(8, dtype=np.float32)
    emb = np.stack([e[i % 8] for i in range(300)])  # no two neighbours alike
    base = made_up(emb)
    english = Index({**base.meta, "video": "talk.mp4"}, base.arrays)
    other = Index({**base.meta, "video": "charla.mp4", "text_encoder": "e5"}, base.arrays)
    rec = confidence.recording_stats(np.zeros(len(emb)), "", (), base.duration, (0.0, 1.0, 0.0))

    def ranked(idx, first, score, own):
        return pipeline.Ranked(idx.meta["video"], first, first + 2,
                               float(idx.sent_start[first]), float(idx.sent_end[first + 2]),
                               score, {}, idx, own, 0.0, 0.0, rec)

    def logistic(coef, bias):  # P(relevant) from the stage-2 score alone
        return confidence.Calibrator(("base",), np.zeros(1), np.ones(1), np.array([coef]),
                                     bias, {})
    calibrators = {"minilm": logistic(10.0, -2.5), "e5": logistic(1.0, -1.2)}
    spans = [ranked(other, 10, 0.9, 0.9), ranked(other, 100, 0.8, 0.9),
             ranked(english, 50, 0.3, 0.2), ranked(english, 200, 0.25, 0.2)]
    monkeypatch.setattr(pipeline, "_snap", lambda r, opt: (r, r))  # spans as they are
    opt = load_config().query
    kept = pipeline.choose(spans, opt, 10, calibrators)
    assert [(c.ranked.video, c.ranked.score) for c in kept] == [
        ("talk.mp4", 0.3), ("talk.mp4", 0.25), ("charla.mp4", 0.9), ("charla.mp4", 0.8)]
    assert [round(c.confidence, 2) for c in kept] == [0.62, 0.5, 0.43, 0.40]
    assert not any(c.weak for c in kept)
    assert len(pipeline.choose(spans, opt, 3, calibrators)) == 3
