"""Where speech is, by the voice activity detector (Silero) inside faster-whisper's wheel:
sound is not speech. Music, applause or laughter is loud, so the levels never call it a
pause; this tells it from a voice."""
from __future__ import annotations

import numpy as np

MIN_GAP = 0.8        # unvoiced stretches this long and longer join the pause map (s)
COVERED = 0.5        # ... unless the levels found a pause over this share of them already
EDGE = 0.25          # ... less this much at each end: the detector hears a word's onset late (s)


def speech_spans(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """(k, 2) start/end seconds of the speech the detector finds, unpadded."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(np.ascontiguousarray(pcm, np.float32),
                                  VadOptions(speech_pad_ms=0, min_silence_duration_ms=100),
                                  sampling_rate=sample_rate)
    return np.array([(s["start"] / sample_rate, s["end"] / sample_rate) for s in spans],
                    np.float64).reshape(-1, 2)


def voiced_share(pcm: np.ndarray, sample_rate: int, start: float, end: float) -> float:
    """The share of [start, end] the detector takes for speech, judged over the stretch
    and half a second around it."""
    if end <= start:
        return 1.0
    a = max(0, int((start - 0.5) * sample_rate))
    b = min(len(pcm), int((end + 0.5) * sample_rate))
    if b - a < sample_rate // 10:
        return 1.0
    spans = speech_spans(pcm[a:b], sample_rate) + a / sample_rate
    voiced = np.clip(np.minimum(spans[:, 1], end) - np.maximum(spans[:, 0], start), 0, None)
    return float(voiced.sum()) / (end - start)


def unvoiced(pcm: np.ndarray, sample_rate: int, pauses: np.ndarray,
             min_gap: float = MIN_GAP) -> np.ndarray:
    """(k, 2) stretches of ``min_gap`` s and longer where the detector finds no speech and
    the pause map (``pauses``, from the levels) has less than ``COVERED`` of them: loud sound
    that is no voice (applause between two talks, a jingle, music). Each is taken in by
    ``EDGE`` s at both ends (under music the detector found a call's first word 0.3-0.5 s
    after it began)."""
    duration = len(pcm) / sample_rate
    if duration <= 0:
        return np.zeros((0, 2))
    edges = np.concatenate([[0.0], speech_spans(pcm, sample_rate).ravel(), [duration]])
    gaps = edges.reshape(-1, 2)
    gaps = gaps[gaps[:, 1] - gaps[:, 0] >= min_gap]
    pauses = np.asarray(pauses, np.float64).reshape(-1, 2)
    keep = []
    for a, b in gaps:
        inside = np.clip(np.minimum(pauses[:, 1], b) - np.maximum(pauses[:, 0], a), 0, None)
        keep.append(inside.sum() < COVERED * (b - a))
    gaps = gaps[np.array(keep, bool)] if len(gaps) else gaps
    return gaps + np.array([EDGE, -EDGE])


def with_unvoiced(pauses: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """The pause map with ``gaps`` added (overlapping stretches joined), in time order."""
    pauses = np.asarray(pauses, np.float64).reshape(-1, 2)
    if not len(gaps):
        return pauses
    both = np.concatenate([pauses, np.asarray(gaps, np.float64).reshape(-1, 2)])
    both = both[np.argsort(both[:, 0], kind="stable")]
    out = [list(both[0])]
    for a, b in both[1:]:
        if a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.array(out, np.float64)
