"""Subtitles of clips: cues timed to the clip, text equal to the transcript, within the reading
limits, speakers named where they change; and subtitles burned into the picture on the
clip's own clock. Real clips come from a short generated sales call (three espeak-ng voices,
captions with voice tags, so no ASR and known sentence times)."""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from clipcut.api import search
from clipcut.config import load_config
from clipcut.cut import cut_clips, ffmpeg_args
from clipcut.export.subtitles import MAX_CHARS, MAX_CUE, srt
from clipcut.synth import CONVERSATION, make_conversation
from clipcut.types import Clip

from .conftest import run_cli

NAMES = {"A": "Ana", "B": "Ben", "C": "Cy"}
BUDGET = "budget approved by the finance director"
CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)",
                 re.S)
WIDTH, HEIGHT = 320, 240  # make_conversation's picture


def parse(text: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) of each cue of an .srt, checking its numbering and layout."""
    cues = []
    for n, block in enumerate(text.strip().split("\n\n"), 1):
        m = CUE.fullmatch(block)
        assert m, block
        assert int(m[1]) == n
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, m.groups()[1:9])
        cues.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000,
                     h2 * 3600 + m2 * 60 + s2 + ms2 / 1000, m[10].split("\n")))
    return cues


def unlabelled(lines: list[str], labels: set[str]) -> str:
    text = " ".join(lines)
    head, _, rest = text.partition(": ")
    return rest if head in labels else text


def check_limits(clip: Clip, cues) -> None:
    """Cues inside the clip, in order, readable, and together the transcript."""
    assert cues
    length = clip.end - clip.start
    for (a, b, lines), nxt in zip(cues, cues[1:] + [None]):
        assert 0 <= a <= b <= length + 0.0005
        assert b - a <= MAX_CUE + 0.001
        assert 1 <= len(lines) <= 2 and all(0 < len(line) <= MAX_CHARS for line in lines)
        if nxt:
            assert b <= nxt[0]
    labels = {line["speaker"] for line in clip.lines} - {None}
    said = " ".join(unlabelled(lines, labels) for _, _, lines in cues)
    assert said.split() == clip.text.split()


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    """The call's first five turns (~40 s), indexed from captions naming the speakers."""
    folder = tmp_path_factory.mktemp("subs-call")
    conv = make_conversation(folder / "call.mp4", CONVERSATION[:5])
    vtt = folder / "call.vtt"
    vtt.write_text(conv.vtt(names=NAMES))
    proc = run_cli("index", conv.video, "--captions", vtt)
    assert proc.returncode == 0, proc.stderr
    return conv


@pytest.fixture(scope="module")
def found(call):
    result = search(call.video, BUDGET, load_config(), n=3)
    assert result.clips
    return result


def test_cues_are_the_clip_transcript_timed_from_the_clip_start(call, found):
    truth = {s.text: s for t in call.turns for s in t.sentences}
    for clip in found.clips:
        cues = parse(srt(clip))
        check_limits(clip, cues)
        # each sentence fits one cue here, so the cues start where the sentences are spoken
        assert len(cues) == len(clip.lines)
        for (a, b, _), line in zip(cues, clip.lines):
            said = truth[line["text"]]
            assert abs(a - (said.start - clip.start)) < 0.01
            assert abs(b - (said.end - clip.start)) < 0.01 or b - a <= 1.0 + 0.001


def test_speaker_named_on_the_first_cue_and_where_the_speaker_changes(found):
    clip = found.clips[0]
    assert len(clip.speakers) >= 2  # the question and its answer
    labels = [lines[0].split(": ")[0] for _, _, lines in parse(srt(clip))
              if lines[0].split(": ")[0] in NAMES.values()]
    assert labels == [t["speaker"] for t in clip.turns]


def test_long_sentences_are_split_at_words_within_the_limits():
    words = ("the customer asked whether the warehouse scanners could keep working through "
             "a network outage and what would happen to the orders that were scanned while "
             "the connection was down for several hours").split()
    timed = [[10.0 + 0.4 * i, 10.0 + 0.4 * i + 0.3, w] for i, w in enumerate(words)]
    line = {"speaker": None, "start": 10.0, "end": timed[-1][1], "text": " ".join(words),
            "words": timed}
    # the clip starts after the sentence does: the first cue is clamped to the clip
    clip = Clip("call.mp4", 11.0, 30.0, 1.0, line["text"], lines=[line])
    for case in (clip, replace(clip, lines=[dict(line, words=[])])):
        cues = parse(srt(case))
        check_limits(case, cues)
        assert len(cues) >= 3 and cues[0][0] == 0.0
        assert not any(": " in " ".join(lines) for _, _, lines in cues)  # no speakers
    # timed by the words: each cue spans its own words exactly
    cues = parse(srt(clip))
    after = len(" ".join(cues[0][2]).split())  # the first word of the second cue
    assert cues[1][0] == pytest.approx(timed[after][0] - clip.start, abs=0.001)
    # a clip without its sentences falls back to its text over the whole clip
    bare = parse(srt(replace(clip, lines=[])))
    assert " ".join(" ".join(c[2]) for c in bare).split() == words
    assert srt(replace(clip, text="", lines=[])) == ""


def frame(video: Path, t: float) -> np.ndarray:
    """The picture of ``video`` at ``t`` s as an RGB array."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(video),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(HEIGHT, WIDTH, 3).astype(float)


def changed(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference in the upper half and in the bottom quarter of the picture."""
    diff = np.abs(a - b)
    return float(diff[:HEIGHT // 2].mean()), float(diff[HEIGHT * 3 // 4:].mean())


def test_burned_subtitles_show_on_the_clip_clock_through_any_path(call, tmp_path):
    """A cue from 1 s to 2 s of the clip shows then and only then, with the .srt in a folder
    whose name holds every character that the filter graph treats specially."""
    folder = tmp_path / "it's: [a], b;c \\ d"
    folder.mkdir()
    subs = folder / "x=y's.srt"
    subs.write_text("1\n00:00:01,000 --> 00:00:02,000\nHELLO THERE WORLD\n")
    opt = load_config().cut
    plain, burned = tmp_path / "plain.mp4", tmp_path / "burned.mp4"
    start = call.turns[1].start  # the cue starts at 1 s of the clip, not of the recording
    for dst, s in ((plain, None), (burned, subs)):
        args = ffmpeg_args(Path(call.video), dst, start, start + 3.0, True, opt, s)
        proc = subprocess.run(args, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    for t, shown in ((0.6, False), (1.5, True), (2.4, False)):
        top, bottom = changed(frame(plain, t), frame(burned, t))
        assert top < 1.0
        assert (bottom > 3.0) == shown, (t, bottom)


def test_cut_clips_burns_each_clip_its_own_subtitles(found, tmp_path):
    clip = found.clips[0]
    opt = load_config().cut
    plain = cut_clips([clip], tmp_path / "plain", found.has_video, opt)[0]
    target = str(tmp_path / "burned" / Path(plain.file).name)
    burned = cut_clips([clip], tmp_path / "burned", found.has_video, opt,
                       subtitles={target: srt(clip)})[0]
    assert burned.file == target
    a, b, _ = parse(srt(clip))[0]
    top, bottom = changed(frame(Path(plain.file), (a + b) / 2),
                          frame(Path(burned.file), (a + b) / 2))
    assert top < 1.0 and bottom > 3.0


def test_the_subtitle_folder_is_made_only_for_burned_subtitles(found, tmp_path, monkeypatch):
    made = tmp_path / "tmp"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))
    seen = []
    real = tempfile.TemporaryDirectory

    def watched(*args, **kwargs):
        holder = real(*args, **kwargs)
        seen.append(Path(holder.name))
        return holder
    monkeypatch.setattr(tempfile, "TemporaryDirectory", watched)
    clip, opt = found.clips[0], load_config().cut
    cut_clips([clip], tmp_path / "plain", found.has_video, opt)
    assert seen == []  # a run killed while cutting has nothing to leave behind
    target = str(tmp_path / "burned" / Path(cut_clips(
        [clip], tmp_path / "other", found.has_video, opt)[0].file).name)
    cut_clips([clip], tmp_path / "burned", found.has_video, opt, subtitles={target: srt(clip)})
    assert len(seen) == 1 and seen[0].parent == made and not seen[0].exists()
