import numpy as np

from clipcut.query.boundaries import SnapWeights, boundary_score, grow, pad, snap, widen

# five sentences with pauses between them (s)
STARTS = np.array([0.0, 5.0, 11.0, 16.0, 24.0])
ENDS = np.array([4.0, 10.0, 15.0, 22.0, 30.0])
NONE = np.zeros((0, 2))


def test_boundary_score_adds_scene_and_silence_and_charges_distance():
    w = SnapWeights(sentence=1.0, scene=0.5, silence=0.5, distance=0.3, radius=5.0)
    silences = np.array([[22.0, 24.0]])
    scenes = np.array([23.5])
    # the start of sentence 4 (24.0): a silence ends there and a scene cut lies 0.5 s before
    assert boundary_score(24.0, 0.0, True, scenes, silences, w) == 2.0
    # moved 2.5 s, nothing else: 1 - 0.3 * 0.5
    assert boundary_score(11.0, 2.5, True, np.zeros(0), NONE, w) == 0.85


def test_snap_prefers_a_nearby_boundary_at_a_scene_cut_and_silence():
    w = SnapWeights(radius=5.0)
    silences = np.array([[15.0, 16.0]])
    scenes = np.array([15.5])
    # asked for sentences 2..4 (11.0-30.0): start may move to 16.0 (silence end + cut)
    first, last = snap(2, 4, STARTS, ENDS, scenes, silences, w, min_len=5, max_len=60)
    assert (first, last) == (3, 4)


def test_snap_keeps_span_when_nothing_better_and_respects_length():
    w = SnapWeights(radius=5.0)
    assert snap(1, 2, STARTS, ENDS, np.zeros(0), NONE, w, 5, 60) == (1, 2)
    # max_len 8 rules out the 10 s span itself: the best span within bounds is sentence 1
    assert snap(1, 2, STARTS, ENDS, np.zeros(0), NONE, w, 1, 8) == (1, 1)
    # nothing fits (min_len 40): the span is kept as it was
    assert snap(1, 2, STARTS, ENDS, np.zeros(0), NONE, w, 40, 60) == (1, 2)


def test_snap_never_moves_the_best_sentence_out():
    w = SnapWeights(radius=5.0)
    silences = np.array([[15.0, 16.0]])
    scenes = np.array([15.5])
    # as above, the start would move past sentence 2; told to keep it, it stays in
    assert snap(2, 4, STARTS, ENDS, scenes, silences, w, 5, 60, keep=2) == (2, 4)
    # an end in a silence 8 s earlier (radius 10) would drop sentence 4, the best one
    w, silences = SnapWeights(radius=10.0), np.array([[22.0, 24.0]])
    assert snap(2, 4, STARTS, ENDS, np.zeros(0), silences, w, 5, 60)[1] == 3
    assert snap(2, 4, STARTS, ENDS, np.zeros(0), silences, w, 5, 60, keep=4)[1] == 4


def test_pad_only_into_pauses():
    # clip = sentences 1..2 (5.0-15.0); pause before is 1 s (half: 0.5), after is 1 s
    assert pad(5.0, 15.0, 1, 2, STARTS, ENDS, 0.25, 30.0) == (4.75, 15.25)
    assert pad(5.0, 15.0, 1, 2, STARTS, ENDS, 2.0, 30.0) == (4.5, 15.5)
    # the first sentence may pad to 0, the last to the end of the recording
    assert pad(0.0, 30.0, 0, 4, STARTS, ENDS, 2.0, 31.0) == (0.0, 31.0)


def test_a_short_span_grows_by_whole_sentences_first():
    # sentence 1 (5-10 s) alone is 5 s; its neighbours are 1 s away on both sides: a tie
    # goes to the earlier one
    assert grow(1, 1, STARTS, ENDS, 8.0, 30.0) == (0, 1)
    assert grow(3, 3, STARTS, ENDS, 8.0, 30.0) == (2, 3)       # 1 s gap before, 2 s after
    assert grow(3, 3, STARTS, ENDS, 20.0, 30.0) == (0, 3)      # until long enough
    assert grow(3, 3, STARTS, ENDS, 8.0, 7.0) == (3, 3)        # never past max_len
    assert grow(0, 4, STARTS, ENDS, 8.0, 30.0) == (0, 4)       # long enough already


def test_a_short_clip_is_widened_to_the_shortest_length():
    assert widen(10.0, 11.0, 8.0, 100.0) == (6.5, 14.5)        # evenly on both sides
    assert widen(0.5, 1.5, 8.0, 100.0) == (0.0, 8.0)           # the start of the recording
    assert widen(95.0, 99.0, 8.0, 100.0) == (92.0, 100.0)      # its end
    assert widen(1.0, 2.0, 8.0, 5.0) == (1.0, 2.0)             # a recording shorter than that
    assert widen(10.0, 30.0, 8.0, 100.0) == (10.0, 30.0)       # long enough already
