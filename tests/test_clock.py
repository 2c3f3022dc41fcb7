"""Times on the file's clock, the one ffmpeg cuts by and players count: sound that starts
after the picture (a recorder or an editor writes that on the audio stream) and streams
that start after zero (MPEG-TS recordings start at 1.4 s) give clips, pauses and scene cuts
where they are in the file, not where the stream's own first sample or frame lies."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from clipcut import cache
from clipcut.index import media
from clipcut.index.scenes import SceneCuts

from .conftest import query_json, run_cli

DELAY = 3.0  # s the sound is moved after the picture


def _remux(args: list, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args), str(out)],
                   check=True, capture_output=True)
    return out


def _envelope(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    return np.sqrt((x[:n * 160].reshape(n, 160) ** 2).mean(1))  # 10 ms frames at 16 kHz


def test_sound_that_starts_after_the_picture_is_on_the_files_clock(recording, tmp_path):
    video = _remux(["-i", recording.video, "-itsoffset", DELAY, "-i", recording.video,
                    "-map", "0:v", "-map", "1:a", "-c", "copy"], tmp_path / "late.mp4")
    assert abs(media.audio_delay(video) - DELAY) < 0.06
    assert media.probe(video).audio_delay == media.audio_delay(video)
    late = _envelope(media.load_audio(video, 16000, recording.duration + DELAY))
    ref = _envelope(media.load_audio(Path(recording.video), 16000, recording.duration))
    lags = np.arange(250, 351)   # 2.5-3.5 s in 10 ms frames
    n = len(ref) - 400
    corr = [np.dot(late[lag:lag + n], ref[:n]) for lag in lags]
    assert abs(lags[int(np.argmax(corr))] / 100 - DELAY) <= 0.06
    # the clip about a topic lies where the topic is heard in this file: 3 s later (before,
    # it came 3 s early and its last seconds were cut off)
    proc = run_cli("index", video)
    assert proc.returncode == 0, proc.stderr
    rc, data, err = query_json(video, "the telescope and the planets in the night sky", "-n", "1",
                               "--no-cut")
    assert rc == 0, err
    a, b = recording.topics["astronomy"]
    clip = data["clips"][0]
    assert a + DELAY - 0.6 <= clip["start"] and clip["end"] <= b + DELAY + 1.0, (clip, a, b)
    # a cache made before this fix timed everything from the sound's first sample (and has no
    # clock entry): `clipcut index` rebuilds it rather than trusting it
    [path] = [p for p in cache.candidates(video) if p.exists()]
    idx = cache.load(path)
    meta = {k: v for k, v in idx.meta.items() if k != "clock"}
    cache.save(path, meta, {**idx.arrays, "sent_start": idx.sent_start - DELAY,
                            "sent_end": idx.sent_end - DELAY})
    proc = run_cli("index", video)
    assert proc.returncode == 0, proc.stderr
    rc, data, err = query_json(video, "the telescope and the planets in the night sky", "-n", "1",
                               "--no-cut")
    assert rc == 0, err
    clip = data["clips"][0]
    assert a + DELAY - 0.6 <= clip["start"] and clip["end"] <= b + DELAY + 1.0, (clip, a, b)
    assert cache.load(path).meta["clock"] == media.CLOCK


def test_frames_of_a_stream_starting_after_zero_are_on_the_files_clock(recording, tmp_path):
    ts = _remux(["-i", recording.video, "-c", "copy"], tmp_path / "talk.ts")
    cuts = {}
    for name, video in (("mp4", Path(recording.video)), ("ts", ts)):
        scenes = SceneCuts(rate=1.0)
        times = []
        for t, rgb in media.sample_frames(video, 1.0, 64, change=3.0, max_gap=10.0):
            scenes.add(t, rgb)
            times.append(t)
        assert times[0] < 0.1, (name, times[:3])
        cuts[name] = scenes.result()
    # MPEG-TS streams start at 1.4 s: scene cuts came 1.4 s late
    assert len(cuts["ts"]) == len(cuts["mp4"]) == len(recording.scene_cuts)
    assert np.abs(cuts["ts"] - cuts["mp4"]).max() < 0.1
    assert np.abs(cuts["ts"] - np.array(recording.scene_cuts)).max() <= 0.6
