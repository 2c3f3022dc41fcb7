"""Bad input: one line on stderr naming the problem, exit 2, no traceback, nothing left behind."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipcut import cache

from .conftest import ffprobe_duration, run_cli


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("clipcut: error:") and "Traceback" not in err
    for n in needles:
        assert n in err, err
    assert proc.stdout == ""


@pytest.fixture
def silent_video(tmp_path):
    path = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=3",
                    "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    return path


def test_missing_file(tmp_path):
    proc = run_cli("index", tmp_path / "nope.mp4")
    assert_one_line_error(proc, "nope.mp4", "not found")


def test_zero_byte_file(tmp_path):
    f = tmp_path / "empty.mp4"
    f.touch()
    assert_one_line_error(run_cli("index", f), "empty")
    assert leftovers(tmp_path, {"empty.mp4"}) == []


def test_text_file_named_mp4(tmp_path):
    f = tmp_path / "notes.mp4"
    f.write_text("these are meeting notes, not a video\n" * 50)
    assert_one_line_error(run_cli("query", f, "pricing"), "notes.mp4", "not a media file")
    assert leftovers(tmp_path, {"notes.mp4"}) == []


def test_video_without_audio_or_captions(silent_video, tmp_path):
    proc = run_cli("query", silent_video, "pricing", "-o", tmp_path / "clips")
    assert_one_line_error(proc, "no audio stream", "--captions")
    assert leftovers(tmp_path, {"silent.mp4"}) == []


def test_unknown_flag():
    assert_one_line_error(run_cli("query", "--frobnicate", "x", "y"), "--frobnicate")


def test_empty_query(tmp_path):
    assert_one_line_error(run_cli("query", tmp_path, "   "), "query is empty")


@pytest.mark.parametrize("flags,needles", [
    (["--min-len", "30", "--max-len", "10"], ["--min-len 30", "--max-len 10"]),
    (["--min-len", "0"], ["--min-len 0"]),
    (["--pad", "-1"], ["--pad", "-1"]),
    (["--min-confidence", "2"], ["--min-confidence", "[0, 1]"]),
])
def test_bad_clip_settings_name_the_flags(tmp_path, flags, needles):
    assert_one_line_error(run_cli("query", tmp_path, "pricing", *flags), *needles)


def test_folder_without_indexed_recordings(tmp_path):
    assert_one_line_error(run_cli("query", tmp_path, "pricing"), "clipcut index")


def test_debug_env_shows_a_traceback(tmp_path):
    proc = run_cli("index", tmp_path / "nope.mp4", env={"CLIPCUT_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_bad_file_in_a_folder_does_not_stop_the_batch(silent_video, tmp_path, recording):
    import shutil

    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 1000)
    shutil.copy(recording.video, tmp_path / "good.mp4")
    from .conftest import write_vtt
    write_vtt(recording, tmp_path / "good.vtt")
    proc = run_cli("index", tmp_path)
    assert proc.returncode == 2  # some failed
    assert "1 indexed, 0 up to date, 2 failed" in proc.stderr
    assert cache.sidecar_path(tmp_path / "good.mp4").exists()
    assert not cache.sidecar_path(tmp_path / "broken.mp4").exists()


@pytest.mark.parametrize("name", ["-y.mp4", "concat:talk.mp4", "-i talk.mp4"])
def test_names_ffmpeg_could_misread_are_cut_as_files(tmp_path, monkeypatch, name):
    """ffmpeg gets argument lists with absolute paths: a name that looks like an option or a
    protocol is still the file (the source is read, the clip lands in a '-' folder)."""
    from clipcut.config import CutOptions
    from clipcut.cut import cut_clips, ffmpeg_args
    from clipcut.types import Clip

    monkeypatch.chdir(tmp_path)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=4",
                    "-f", "lavfi", "-i", "sine=f=440:d=4", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", str(tmp_path / name)], check=True)
    clip = Clip(name, 1.0, 3.0, 0.5, "", rank=1)
    opt = CutOptions(reencode=True, crf=30, preset="ultrafast")
    args = ffmpeg_args(Path(name), Path("-out/x.mp4"), 1.0, 3.0, True, opt)
    assert str(tmp_path / name) in args and str(tmp_path / "-out/x.mp4") in args
    assert name not in args
    [done] = cut_clips([clip], Path("-out"), {name: True}, opt)
    assert Path(done.file).parent == Path("-out") and abs(ffprobe_duration(done.file) - 2.0) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["-out", name])
