import numpy as np

from clipcut.index.windows import make_windows, members, pool


def test_windows_thirty_seconds_half_overlap():
    w = make_windows(100.0, 30.0, 15.0)
    assert w.tolist() == [[0, 30], [15, 45], [30, 60], [45, 75], [60, 90], [75, 100]]


def test_ninety_minutes_gives_about_360_windows():
    assert len(make_windows(90 * 60.0)) == 359


def test_short_recording_is_one_window():
    assert make_windows(12.5).tolist() == [[0.0, 12.5]]


def test_members_use_midpoints_and_close_the_last_window():
    w = make_windows(60.0, 30.0, 15.0)  # [0,30] [15,45] [30,60]
    mids = np.array([5.0, 20.0, 44.9, 60.0])
    got = [m.tolist() for m in members(w, mids)]
    assert got == [[0, 1], [1, 2], [2, 3]]


def test_pool_means_and_normalizes_with_zero_for_empty():
    rows = np.array([[3.0, 0.0], [0.0, 4.0]], dtype=np.float32)
    out = pool(rows, [np.array([0, 1]), np.array([], int)])
    np.testing.assert_allclose(out[0], [0.6, 0.8], atol=1e-6)
    assert out[1].tolist() == [0.0, 0.0]
