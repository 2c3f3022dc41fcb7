import numpy as np

from clipcut.index.audio import frame_db, log_mel, per_second, per_second_log_mel, silences

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


def test_block_wise_features_equal_the_whole_recording_at_once():
    """Long recordings are processed in blocks (bounded memory); block edges change nothing."""
    x = np.random.default_rng(0).standard_normal(SR * 7 + 37).astype(np.float32) * 0.1
    whole = per_second(log_mel(x, SR, 80, 0.025, 0.010), 0.010, len(x) / SR)
    for block in (1, 2, 600):
        blocks = per_second_log_mel(x, SR, 80, 0.025, 0.010, len(x) / SR, block=block)
        assert blocks.shape == whole.shape == (8, 160)
        np.testing.assert_allclose(blocks, whole, atol=1e-5)
    db = frame_db(x, SR, 0.025, 0.010)
    np.testing.assert_allclose(frame_db(x, SR, 0.025, 0.010, block=0.07), db, atol=1e-5)
    # frame k covers samples [160 k, 160 k + 400): its RMS level by hand
    k = 123
    rms = np.sqrt(np.mean(x[160 * k:160 * k + 400].astype(np.float64) ** 2))
    assert abs(db[k] - 20 * np.log10(rms)) < 1e-4
