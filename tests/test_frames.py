"""Frame sampling: keyframes alone where nothing changes, 1 fps where something does, and the
frames it returns are exactly the frames a full decode gives at those times."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from clipcut.index import media


def test_sampling_decodes_between_keyframes_only_where_they_differ(recording):
    video = Path(recording.video)
    sampled = list(media.sample_frames(video, 1.0, 64, change=3.0, max_gap=10.0))
    every = dict(media.iter_frames(video, 100.0, 64))   # every frame, keyed by its time
    times = np.array([t for t, _ in sampled])
    assert np.all(np.diff(times) > 0.5)                # time order, at most ~1 per second
    assert np.diff(times).max() <= 10.0 + 0.05         # never more than max_gap apart
    assert len(times) < 0.7 * recording.duration       # still cards between cuts are skipped
    for t, rgb in sampled:                             # bit-exact frames at their own times
        np.testing.assert_array_equal(rgb, every[t])
    for cut in recording.scene_cuts:                   # a sample within a second each side
        assert np.any((times >= cut - 1.0) & (times < cut))
        assert np.any((times >= cut) & (times <= cut + 1.0))


def test_sampling_every_frame_when_max_gap_is_one_sample(recording):
    video = Path(recording.video)
    times = np.array([t for t, _ in media.sample_frames(video, 1.0, 32, 3.0, max_gap=1.0)])
    assert abs(len(times) - recording.duration) <= 1.5
    assert np.diff(times).max() <= 1.05


def test_thumbnail_difference_sees_a_colour_change_not_noise():
    rng = np.random.default_rng(0)
    a = np.full((64, 64, 3), 120, np.uint8)
    noisy = np.clip(a + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    other = np.full((64, 64, 3), 40, np.uint8)
    assert media.difference(media.thumbnail(a), media.thumbnail(noisy)) < 1.0
    assert media.difference(media.thumbnail(a), media.thumbnail(other)) == 80.0


def test_near_duplicates_reuse_the_last_embedding_for_at_most_max_gap():
    from clipcut.index.visual import NearDuplicates

    still, other = np.zeros((16, 16, 3), np.float32), np.full((16, 16, 3), 50, np.float32)
    dups = NearDuplicates(threshold=2.0, max_gap=10.0)
    thumbs = [still, still + 1, still, other, other, other, other]
    times = [0.0, 1.0, 9.0, 10.0, 11.0, 20.0, 21.0]
    new = [dups.new(t, th) for t, th in zip(times, thumbs)]
    assert new == [True, False, False, True, False, True, False]
    assert dups.rows == [0, 0, 0, 1, 1, 2, 2]
