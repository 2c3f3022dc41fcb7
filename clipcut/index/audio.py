"""Audio features: 80-bin log-mel (25 ms window, 10 ms hop), per-second features, silences."""
from __future__ import annotations

import numpy as np

EPS = 1e-10


def log_mel(audio: np.ndarray, sample_rate: int = 16000, n_mels: int = 80,
            win_length: float = 0.025, hop_length: float = 0.010) -> np.ndarray:
    """(frames, n_mels) log10 mel power, one frame per ``hop_length`` s."""
    from ..models import IMPORTS

    with IMPORTS:
        import librosa

    n_fft = int(round(win_length * sample_rate))
    hop = int(round(hop_length * sample_rate))
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    mel = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=n_fft, hop_length=hop,
                                         win_length=n_fft, n_mels=n_mels, power=2.0, center=True)
    return np.log10(mel + EPS).T.astype(np.float32)


def per_second(mel: np.ndarray, hop_length: float, duration: float) -> np.ndarray:
    """(ceil(duration), 2 * n_mels): mean and standard deviation of the log-mel in each second."""
    n_sec = max(1, int(np.ceil(duration - 1e-6)))
    per = int(round(1.0 / hop_length))
    out = np.zeros((n_sec, 2 * mel.shape[1]), dtype=np.float32)
    for s in range(n_sec):
        chunk = mel[s * per:(s + 1) * per]
        if len(chunk):
            out[s, :mel.shape[1]] = chunk.mean(0)
            out[s, mel.shape[1]:] = chunk.std(0)
    return out


def frame_db(audio: np.ndarray, sample_rate: int, win_length: float, hop_length: float) -> np.ndarray:
    """Level of each analysis frame in dBFS (RMS; a full-scale square wave is 0 dBFS)."""
    n = int(round(win_length * sample_rate))
    hop = int(round(hop_length * sample_rate))
    if audio.size < n:
        audio = np.pad(audio, (0, n - audio.size))
    n_frames = 1 + (audio.size - n) // hop
    # running sum of squares: O(samples) memory however long the recording is
    csum = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    starts = hop * np.arange(n_frames)
    rms = np.sqrt(np.maximum(csum[starts + n] - csum[starts], 0.0) / n)
    return (20 * np.log10(rms + EPS)).astype(np.float32)


def silences(db: np.ndarray, hop_length: float, threshold_db: float = -40.0,
             min_duration: float = 0.5) -> np.ndarray:
    """(k, 2) start/end seconds of runs below ``threshold_db`` lasting over ``min_duration``."""
    quiet = np.concatenate([[False], db < threshold_db, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    keep = (ends - starts) * hop_length > min_duration
    out = np.stack([starts[keep], ends[keep]], axis=1).astype(np.float64) * hop_length
    return out.reshape(-1, 2)
