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


def talk_with_pauses(noise_rms: float, speech_rms: float, seed: int = 0, intro: float = 0.0):
    """``intro`` s of digital silence, then ten 1.2 s bursts of speech-like sound (a 200 Hz
    tone, amplitude-modulated at 4 Hz as syllables are) each followed by a 0.4 s pause, over
    steady white noise; the pauses start at 1.2, 2.8, 4.4, ... s after the intro."""
    rng = np.random.default_rng(seed)
    n_burst, n_pause = int(1.2 * SR), int(0.4 * SR)
    t = np.arange(n_burst) / SR
    burst = np.sin(2 * np.pi * 200 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    burst *= speech_rms / np.sqrt(np.mean(burst ** 2))
    x = np.concatenate([np.concatenate([burst, np.zeros(n_pause)]) for _ in range(10)])
    x = x + noise_rms * rng.standard_normal(x.size)
    return np.concatenate([np.zeros(int(intro * SR)), x]).astype(np.float32)


def test_pauses_are_found_over_background_noise_and_in_quiet_recordings():
    from clipcut.config import load_config
    from clipcut.index.audio import pause_maps, silence_threshold

    acfg = load_config().audio
    rms = 10 ** (-20 / 20)
    cases = {  # (noise, speech, seconds of digital silence before)
        "clean": (1e-4, rms, 0.0),                          # noise at -80 dBFS, speech at -20
        "noisy room": (10 ** (-37 / 20), rms, 0.0),         # noise at -37: never under -40
        "quiet recording": (1e-5, 10 ** (-52 / 20), 0.0),   # speech at -52: all under -40
        # a short exported intro of digital silence (3 % of it) does not hide the noise
        "noisy room after a silent intro": (10 ** (-37 / 20), rms, 0.5)}
    for name, (noise, speech, intro) in cases.items():
        x = talk_with_pauses(noise, speech, intro=intro)
        db = frame_db(x, SR, acfg.win_length, acfg.hop_length)
        level = silence_threshold(db, acfg.silence_db)
        if name == "clean":
            assert level == acfg.silence_db  # recordings like the benchmark's are unchanged
        _, pauses = pause_maps(x, acfg, 0.25)
        pauses = pauses[pauses[:, 0] >= intro + 0.5]  # not the intro
        assert len(pauses) == 10, (name, level, pauses)  # the pause after each burst
        starts = intro + 1.2 + 1.6 * np.arange(10)
        assert np.all(np.abs(pauses[:, 0] - starts) <= 0.05), (name, pauses)
        assert np.all(np.abs(pauses[:, 1] - (starts + 0.4)) <= 0.05), (name, pauses)


def test_a_dc_offset_is_not_sound():
    from clipcut.config import load_config
    from clipcut.index.audio import pause_maps

    acfg = load_config().audio
    clean = talk_with_pauses(1e-4, 0.1)
    # a faulty microphone's offset of 0.05 (-26 dBFS) in every pause; a codec's trace left alone
    for dc in (0.05, 0.001):
        _, pauses = pause_maps(clean + np.float32(dc), acfg, 0.25)
        assert np.array_equal(pauses, pause_maps(clean, acfg, 0.25)[1]), (dc, pauses)
