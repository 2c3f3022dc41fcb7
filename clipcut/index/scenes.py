"""Scene cuts with PySceneDetect's ContentDetector, run on the frames already sampled for the
visual stage, so the video is decoded once."""
from __future__ import annotations

import numpy as np


class SceneCuts:
    """Feed RGB frames in time order; ``cuts`` holds the times (s) where a new shot starts."""

    def __init__(self, threshold: float = 27.0, rate: float = 1.0):
        from ..models import IMPORTS

        with IMPORTS:
            from scenedetect import ContentDetector

        self._detector = ContentDetector(threshold=threshold, min_scene_len=1)
        self._rate = rate
        self._times: list[float] = []
        self.cuts: list[float] = []

    def add(self, t: float, rgb: np.ndarray) -> None:
        """Add the next sampled frame; a cut found here lies between it and the one before,
        so it is placed half way between the two."""
        from scenedetect import FrameTimecode

        n = len(self._times)
        self._times.append(t)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        for tc in self._detector.process_frame(FrameTimecode(n, fps=self._rate), bgr):
            i = tc.frame_num
            self.cuts.append((self._times[i - 1] + self._times[i]) / 2 if i > 0 else self._times[i])

    def result(self) -> np.ndarray:
        return np.asarray(sorted(set(self.cuts)), dtype=np.float64)
