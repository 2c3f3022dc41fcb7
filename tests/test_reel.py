"""The highlight reel on a short generated talk (one colour card per topic, captions instead of
ASR): its length, frames and chapters match the clips to the frame, each piece shows its
clip's picture and speech at the right place, in rank or time order; other sizes and rates,
audio-only recordings and ffmpeg failures."""
from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from clipcut.api import search
from clipcut.config import load_config
from clipcut.cut import TAG
from clipcut.errors import ExportError
from clipcut.export import files, reel
from clipcut.synth import COLOURS, TOPICS, make_recording
from clipcut.types import Clip

from .conftest import run_cli, write_vtt

TOPIC_ORDER = ["pricing", "astronomy", "cooking"]  # in the recording
RANKED = ["cooking", "pricing", "astronomy"]       # in the reel's rank order
QUERIES = {"cooking": "baking sourdough bread", "pricing": "discount on the price",
           "astronomy": "planets through a telescope"}
AAC_SLACK = 0.01  # s between picture and audio lengths (measured: under 1 ms, an edit list
                  # trims the AAC padding)


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                          "format=duration:format_tags=comment:stream=codec_type,width,height,"
                          "r_frame_rate,nb_read_frames,duration:chapter=start_time,end_time:"
                          "chapter_tags=title", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def stream(info: dict, kind: str) -> dict | None:
    return next((s for s in info["streams"] if s["codec_type"] == kind), None)


def frames_of(clip: Clip, fps: Fraction) -> int:
    return round(Fraction(clip.end - clip.start) * fps)


def check_reel(path: Path, clips: list[Clip], fps: Fraction, chapters) -> dict:
    """The reel's picture holds each clip's frames exactly, its audio as long (within an AAC
    frame), and one chapter per clip starts where each piece starts."""
    info = probe(path)
    counts = [frames_of(c, fps) for c in clips]
    bounds = np.cumsum([0] + counts) / float(fps)
    video = stream(info, "video")
    assert Fraction(video["r_frame_rate"]) == fps
    assert int(video["nb_read_frames"]) == sum(counts)
    assert abs(float(info["format"]["duration"]) - bounds[-1]) <= AAC_SLACK
    assert abs(float(stream(info, "audio")["duration"]) - bounds[-1]) <= AAC_SLACK
    assert len(info["chapters"]) == len(clips) == len(chapters)
    frame = 1 / float(fps)
    for c, got, ch, a, b in zip(clips, info["chapters"], chapters, bounds, bounds[1:]):
        assert abs(float(got["start_time"]) - a) < frame
        assert abs(float(got["end_time"]) - b) < frame
        assert abs(ch.start - a) < 1e-6 and abs(ch.end - b) < 1e-6
        assert got["tags"]["title"] == ch.title and ch.title.startswith(f"#{c.rank} ")
        assert len(ch.title) <= reel.TITLE_CHARS
    assert info["format"]["tags"]["comment"] == TAG
    assert files.written_by_clipcut(path)
    assert not list(path.parent.glob(f".{path.name}*.part"))
    return info


def picture(path: Path, t: float, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(float)


def onset(path: str | Path, start: float, rate: int = 8000, level: float = 0.02) -> float:
    """Seconds from ``start`` to the first millisecond of speech in ``path``."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{start:.3f}", "-t", "3", "-i",
                          str(path), "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    pcm = np.frombuffer(raw, np.int16).astype(float) / 32768
    step = rate // 1000
    rms = np.sqrt((pcm[:len(pcm) // step * step].reshape(-1, step) ** 2).mean(axis=1))
    return float(np.argmax(rms > level)) / 1000


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """Three topics of three sentences (~40 s), indexed from exact captions."""
    folder = tmp_path_factory.mktemp("reel-talk")
    rec = make_recording(folder / "talk.mp4", {k: TOPICS[k][:3] for k in TOPIC_ORDER})
    proc = run_cli("index", rec.video, "--captions", write_vtt(rec, folder / "talk.vtt"))
    assert proc.returncode == 0, proc.stderr
    return rec


@pytest.fixture(scope="module")
def ranked(talk):
    """The best clip of each topic, ranked cooking, pricing, astronomy: not in time order."""
    clips, has_video = [], {}
    for rank, topic in enumerate(RANKED, 1):
        result = search(talk.video, QUERIES[topic], load_config(), n=1)
        clip = result.clips[0]
        a, b = talk.topics[topic]
        assert a - 1.5 <= clip.start and clip.end <= b + 1.5, (topic, clip)
        clips.append(replace(clip, rank=rank))
        has_video.update(result.has_video)
    return clips, has_video


def test_rank_order_reel_matches_the_clips_frame_by_frame(talk, ranked, tmp_path):
    clips, has_video = ranked
    path = tmp_path / "reel.mp4"
    chapters = reel.write(path, clips, has_video, "rank", load_config().cut)
    check_reel(path, clips, Fraction(25), chapters)
    for c, ch, topic in zip(clips, chapters, RANKED):
        # the piece shows its topic's colour card ...
        colour = COLOURS[TOPIC_ORDER.index(topic)]
        expected = np.array([int(colour[2:][k:k + 2], 16) for k in (0, 2, 4)])
        mid = picture(path, (ch.start + ch.end) / 2, (320, 240))
        assert np.abs(mid.mean(axis=(0, 1)) - expected).max() < 12
        # ... and its speech starts as far into the piece as into the clip: no drift
        assert abs(onset(path, ch.start) - onset(c.video, c.start)) <= 0.005, c


def test_time_order_sorts_the_same_pieces_by_start(ranked, tmp_path):
    clips, has_video = ranked
    path = tmp_path / "by-time.mp4"
    chapters = reel.write(path, clips, has_video, "time", load_config().cut)
    by_time = sorted(clips, key=lambda c: c.start)
    assert [c.rank for c in by_time] == [2, 3, 1]
    check_reel(path, by_time, Fraction(25), chapters)
    assert [ch.title.split()[0] for ch in chapters] == ["#2", "#3", "#1"]


def test_time_order_plays_shared_seconds_once(ranked, tmp_path):
    """Two answers that took in the same question overlap; in time order the later one
    starts where the earlier one ends, and the chapters follow."""
    clips, has_video = ranked
    a = sorted(clips, key=lambda c: c.start)[0]
    b = replace(a, start=round(a.start + 2.0, 3), end=round(a.end + 3.0, 3), rank=9)
    path = tmp_path / "shared.mp4"
    chapters = reel.write(path, [b, a], has_video, "time", load_config().cut)
    pieces = reel.ordered([b, a], "time")
    assert [c.rank for c in pieces] == [a.rank, 9]
    assert pieces[1].start == a.end and pieces[1].end == b.end
    check_reel(path, pieces, Fraction(25), chapters)
    assert abs(chapters[-1].end - (b.end - a.start)) < 0.05


def card_changes(path: Path | str, seconds: float, fps: int = 25) -> list[float]:
    """Times (frame index / fps) of the frames where the picture's colour changes."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-t", f"{seconds:.3f}",
                          "-vf", "scale=8:8", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    colour = np.frombuffer(raw, np.uint8).reshape(-1, 8 * 8, 3).astype(float).mean(axis=1)
    step = np.abs(np.diff(colour, axis=0)).max(axis=1)
    return [(k + 1) / fps for k in np.flatnonzero(step > 20)]


def test_picture_stays_in_step_with_the_sound(talk, tmp_path):
    """A clip starting between two frames shows the scene cut where the recording does, to
    half a frame (its sound starts exactly at the clip's start)."""
    cut = card_changes(talk.video, talk.scene_cuts[0] + 1)[0]
    clips = [Clip(talk.video, round(cut - 1 + offset, 3), round(cut + 1, 3), 1.0, "x", rank=k)
             for k, offset in enumerate((0.005, 0.035), 1)]
    path = tmp_path / "cuts.mp4"
    chapters = reel.write(path, clips, {}, "rank", load_config().cut)
    changes = [t for t in card_changes(path, chapters[-1].end)
               if not any(abs(t - ch.start) < 0.001 for ch in chapters)]  # not the joins
    assert len(changes) == 2
    for t, c, ch in zip(changes, clips, chapters):
        assert abs(t - (ch.start + cut - c.start)) <= 0.5 / 25 + 0.001


def test_other_sizes_and_rates_take_the_first_clips(talk, tmp_path):
    ntsc = make_recording(tmp_path / "ntsc.mp4", {"football": TOPICS["football"][:2]},
                          fps="30000/1001", size="640x360")
    clips = [Clip(ntsc.video, 0.5, 3.3, 1.0, "the match", rank=1),
             Clip(talk.video, 5.0, 7.25, 0.9, "the price", rank=2)]
    path = tmp_path / "mixed.mp4"
    chapters = reel.write(path, clips, {}, "rank", load_config().cut)
    info = check_reel(path, clips, Fraction(30000, 1001), chapters)
    video = stream(info, "video")
    assert (video["width"], video["height"]) == (640, 360)
    # the 4:3 talk is letterboxed into 16:9: black bars left and right, its card between
    second = picture(path, (chapters[1].start + chapters[1].end) / 2, (640, 360))
    assert second[:, :40].mean() < 20 and second[:, 300:340].mean() > 40
    assert "ntsc" in chapters[0].title and "talk" in chapters[1].title  # two recordings


def test_audio_only_recordings_make_an_audio_reel(talk, tmp_path):
    audio = tmp_path / "talk.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", talk.video, "-vn", "-c:a", "copy",
                    str(audio)], check=True)
    clips = [Clip(str(audio), 10.0, 12.5, 1.0, "one", rank=1),
             Clip(str(audio), 2.0, 3.0, 0.5, "two", rank=2)]
    has_video = {str(audio): False}
    path = tmp_path / "reel.m4a"
    chapters = reel.write(path, clips, has_video, "rank", load_config().cut)
    info = probe(path)
    assert stream(info, "video") is None
    assert abs(float(info["format"]["duration"]) - 3.5) <= AAC_SLACK
    assert [(round(c.start, 3), round(c.end, 3)) for c in chapters] == [(0, 2.5), (2.5, 3.5)]
    assert [float(c["start_time"]) for c in info["chapters"]] == pytest.approx([0, 2.5],
                                                                               abs=0.001)
    # beside a clip with video, an audio-only clip shows black for its length
    mixed = [Clip(talk.video, 5.0, 7.0, 1.0, "the price", rank=1)] + clips[1:]
    chapters = reel.write(tmp_path / "mixed.mp4", mixed, has_video, "rank", load_config().cut)
    check_reel(tmp_path / "mixed.mp4", mixed, Fraction(25), chapters)
    assert picture(tmp_path / "mixed.mp4", 2.5, (320, 240)).mean() < 20


def test_bad_targets_and_ffmpeg_failures_leave_no_file(talk, tmp_path):
    clip = Clip(talk.video, 5.0, 7.0, 1.0, "the price", rank=1)
    opt = load_config().cut
    with pytest.raises(ExportError, match="name the reel .mp4"):
        reel.write(tmp_path / "video.m4a", [clip], {}, "rank", opt)
    with pytest.raises(ExportError, match="not '.avi'"):
        reel.write(tmp_path / "reel.avi", [clip], {}, "rank", opt)
    with pytest.raises(ExportError, match="unknown reel order"):
        reel.write(tmp_path / "reel.mp4", [clip], {}, "random", opt)
    with pytest.raises(ExportError, match="no clips"):
        reel.write(tmp_path / "reel.mp4", [], {}, "rank", opt)
    with pytest.raises(ExportError) as err:  # x264 refuses the preset
        reel.write(tmp_path / "reel.mp4", [clip], {}, "rank", replace(opt, preset="bogus"))
    assert "ffmpeg could not write the reel" in str(err.value) and "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())  # neither a reel nor its temporary file
