import numpy as np

from clipcut.query.select import is_duplicate, opens_with_reference, overlaps_too_much


def test_nms_overlap_is_measured_on_the_shorter_clip():
    kept = [(0.0, 30.0)]
    assert not overlaps_too_much((25.0, 60.0), kept, 0.3)  # 5 s of 30 s
    assert overlaps_too_much((20.0, 50.0), kept, 0.3)      # 10 s of 30 s
    assert overlaps_too_much((10.0, 15.0), kept, 0.3)      # inside
    assert not overlaps_too_much((30.0, 40.0), kept, 0.3)  # touching


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
