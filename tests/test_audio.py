import numpy as np

from clipcut.index.audio import frame_db, log_mel, per_second, silences

SR = 16000


def tone_with_gap():
    t = np.arange(SR * 3) / SR
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    x[SR:2 * SR] = 0.0  # one second of silence from 1.0 to 2.0 s
    return x


def test_silence_map_finds_the_gap():
    db = frame_db(tone_with_gap(), SR, 0.025, 0.010)
    sil = silences(db, 0.010, -40.0, 0.5)
    assert sil.shape == (1, 2)
    assert abs(sil[0, 0] - 1.0) <= 0.03 and abs(sil[0, 1] - 2.0) <= 0.03


def test_short_pauses_are_not_silences():
    x = tone_with_gap()
    x[SR:2 * SR] = 0.5 * np.sin(np.arange(SR) * 0.1)
    x[SR + 1000:SR + 1000 + int(0.3 * SR)] = 0.0  # 0.3 s gap only
    assert len(silences(frame_db(x, SR, 0.025, 0.010), 0.010, -40.0, 0.5)) == 0


def test_log_mel_shape_and_per_second_features():
    mel = log_mel(tone_with_gap(), SR, 80, 0.025, 0.010)
    assert mel.shape[1] == 80 and abs(mel.shape[0] - 300) <= 2
    feats = per_second(mel, 0.010, 3.0)
    assert feats.shape == (3, 160)
    # the silent second is far quieter than the tone seconds
    assert feats[1, :80].max() < feats[0, :80].max() - 3
