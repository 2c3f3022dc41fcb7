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
