"""Audio features: 80-bin log-mel (25 ms window, 10 ms hop), per-second features, silences.

Long recordings are processed in blocks, so memory beyond the decoded samples does not grow
with the length of the recording (a 4-hour file holds 0.9 GB of 16 kHz samples, no more).
"""
from __future__ import annotations

import functools

import numpy as np

EPS = 1e-10
BLOCK = 600  # seconds of audio per block of feature computation


def _frame_params(sample_rate: int, win_length: float, hop_length: float) -> tuple[int, int]:
    return int(round(win_length * sample_rate)), int(round(hop_length * sample_rate))


def _n_seconds(duration: float) -> int:
    return max(1, int(np.ceil(duration - 1e-6)))


def _padded(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``audio[start:stop]``, with zeros where the range runs past either end."""
    seg = audio[max(start, 0):max(min(stop, audio.size), 0)]
    left, right = max(-start, 0), max(stop - max(audio.size, start), 0)
    return np.pad(seg, (left, right)) if left or right else seg


def _n_frames(n_samples: int, n_fft: int, hop: int) -> int:
    return 1 + max(n_samples, n_fft) // hop


def log_mel(audio: np.ndarray, sample_rate: int = 16000, n_mels: int = 80,
            win_length: float = 0.025, hop_length: float = 0.010) -> np.ndarray:
    """(frames, n_mels) log10 mel power, one frame per ``hop_length`` s, frame k centred on
    sample k * hop (zero padding at the ends)."""
    return _log_mel_frames(audio, sample_rate, n_mels, win_length, hop_length,
                           0, _n_frames(audio.size, *_frame_params(sample_rate, win_length,
                                                                   hop_length)))


@functools.cache
def load_librosa():
    """librosa, imported under the models' import lock with one short call made: it loads
    scipy.stats lazily on the first call, and scipy.stats looks at torch, which a side thread
    may be importing at that moment (a half-initialized torch failed the import)."""
    from ..models import IMPORTS

    with IMPORTS:
        import librosa

        librosa.feature.melspectrogram(y=np.zeros(4096, np.float32), sr=16000, n_fft=400,
                                       hop_length=160, n_mels=8)
    return librosa


def _log_mel_frames(audio: np.ndarray, sample_rate: int, n_mels: int, win_length: float,
                    hop_length: float, k0: int, k1: int) -> np.ndarray:
    """Frames ``k0:k1`` of ``log_mel`` computed from the samples they need only."""
    librosa = load_librosa()
    n_fft, hop = _frame_params(sample_rate, win_length, hop_length)
    seg = _padded(audio, k0 * hop - n_fft // 2, (k1 - 1) * hop - n_fft // 2 + n_fft)
    mel = librosa.feature.melspectrogram(y=seg, sr=sample_rate, n_fft=n_fft, hop_length=hop,
                                         win_length=n_fft, n_mels=n_mels, power=2.0,
                                         center=False)
    return np.log10(mel + EPS).T.astype(np.float32)


def per_second(mel: np.ndarray, hop_length: float, duration: float) -> np.ndarray:
    """(ceil(duration), 2 * n_mels): mean and standard deviation of the log-mel in each second."""
    n_sec = _n_seconds(duration)
    per = int(round(1.0 / hop_length))
    out = np.zeros((n_sec, 2 * mel.shape[1]), dtype=np.float32)
    for s in range(n_sec):
        chunk = mel[s * per:(s + 1) * per]
        if len(chunk):
            out[s, :mel.shape[1]] = chunk.mean(0)
            out[s, mel.shape[1]:] = chunk.std(0)
    return out


def per_second_log_mel(audio: np.ndarray, sample_rate: int, n_mels: int, win_length: float,
                       hop_length: float, duration: float, block: int = BLOCK) -> np.ndarray:
    """``per_second(log_mel(audio), ...)`` computed ``block`` seconds at a time."""
    n_fft, hop = _frame_params(sample_rate, win_length, hop_length)
    n_sec = _n_seconds(duration)
    per = int(round(1.0 / hop_length))
    total = _n_frames(audio.size, n_fft, hop)
    out = np.zeros((n_sec, 2 * n_mels), dtype=np.float32)
    for s0 in range(0, n_sec, block):
        s1 = min(s0 + block, n_sec)
        k0, k1 = s0 * per, min(s1 * per, total)
        if k0 >= k1:
            break
        mel = _log_mel_frames(audio, sample_rate, n_mels, win_length, hop_length, k0, k1)
        out[s0:s1] = per_second(mel, hop_length, s1 - s0)
    return out


def frame_db(audio: np.ndarray, sample_rate: int, win_length: float, hop_length: float,
             block: float = BLOCK, offset: float = 0.0) -> np.ndarray:
    """Level of each analysis frame in dBFS (RMS; a full-scale square wave is 0 dBFS) of
    ``audio`` less ``offset`` (a DC offset), ``block`` seconds at a time."""
    n, hop = _frame_params(sample_rate, win_length, hop_length)
    block = max(1, int(round(block / hop_length)))  # frames
    if audio.size < n:
        audio = np.pad(audio, (0, n - audio.size))
    n_frames = 1 + (audio.size - n) // hop
    out = np.empty(n_frames, dtype=np.float32)
    for f0 in range(0, n_frames, block):
        f1 = min(f0 + block, n_frames)
        seg = audio[f0 * hop:(f1 - 1) * hop + n].astype(np.float64) - offset
        csum = np.concatenate([[0.0], np.cumsum(seg * seg)])  # running sum of squares
        starts = hop * np.arange(f1 - f0)
        rms = np.sqrt(np.maximum(csum[starts + n] - csum[starts], 0.0) / n)
        out[f0:f1] = 20 * np.log10(rms + EPS)
    return out


# How pauses are told from speech; a cache records it (its pause maps are measured again, and
# what depends on them made again, when it differs). "levels2": the silence level follows the
# recording's background noise and loudness (silence_threshold); "+voice": the index adds
# the long stretches the voice activity detector finds no speech in (``vad.unvoiced``).
PAUSES = "levels2+voice"
NOISE_MARGIN = 8.0    # silence lies at most this far over the background noise (dB)
DIGITAL_SILENCE = -90.0  # frames under this level count as this level (dBFS)
QUIET_MARGIN = 15.0   # speech whose loud frames come closer than this to [audio] silence_db
                      # is a quiet recording (dB)


def silence_threshold(db: np.ndarray, floor_db: float) -> float:
    """The level (dBFS) under which a frame of a recording is silent: ``floor_db`` ([audio]
    silence_db) for a recording with a quiet background and speech well above it. Where
    steady background noise (the quietest 5 % of frames) comes within NOISE_MARGIN of it
    (a room, a phone line: nothing was ever under -40 dBFS), silence is what stays within
    NOISE_MARGIN of the noise, and never over halfway to the loud frames (the loudest 5 %);
    in a quiet recording (loud frames within QUIET_MARGIN of ``floor_db``), halfway. (Digital
    silence over 5 % of a recording, a long silent intro, hides the noise under its speech.)"""
    if not db.size:
        return floor_db
    noise, loud = (float(v) for v in np.percentile(db, [5, 95]))
    noise = max(noise, DIGITAL_SILENCE)  # digital silence counts as very quiet, not -200 dB
    halfway = (noise + loud) / 2
    if noise + NOISE_MARGIN > floor_db:
        return min(noise + NOISE_MARGIN, halfway)
    if loud < floor_db + QUIET_MARGIN:
        return halfway
    return floor_db


def pause_maps(audio: np.ndarray, acfg, fine: float) -> tuple[np.ndarray, np.ndarray]:
    """(silence map: runs over ``acfg.silence_min`` s, pause map: runs over ``fine`` s) of
    decoded audio, from one pass over its levels (``acfg``: the [audio] options), silent
    under ``silence_threshold``. A DC offset loud enough to count as sound in every pause
    (within 10 dB of [audio] silence_db; a faulty microphone's) is taken out first."""
    offset = float(np.mean(audio, dtype=np.float64)) if audio.size else 0.0
    if 20 * np.log10(abs(offset) + EPS) < acfg.silence_db - 10:
        offset = 0.0  # a trace of DC (the codec's) is left alone: every level stays as it was
    db = frame_db(audio, acfg.sample_rate, acfg.win_length, acfg.hop_length, offset=offset)
    level = silence_threshold(db, acfg.silence_db)
    return (silences(db, acfg.hop_length, level, acfg.silence_min),
            silences(db, acfg.hop_length, level, fine))


def silences(db: np.ndarray, hop_length: float, threshold_db: float = -40.0,
             min_duration: float = 0.5) -> np.ndarray:
    """(k, 2) start/end seconds of runs below ``threshold_db`` lasting over ``min_duration``."""
    quiet = np.concatenate([[False], db < threshold_db, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    keep = (ends - starts) * hop_length > min_duration
    out = np.stack([starts[keep], ends[keep]], axis=1).astype(np.float64) * hop_length
    return out.reshape(-1, 2)
