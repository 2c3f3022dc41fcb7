"""Shared fixtures: generated media with known answers (espeak-ng speech, lavfi video)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipcut.synth import make_recording, vtt_time

CLIPCUT = [sys.executable, "-m", "clipcut"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    # keep the user cache dir (read-only folder fallback) inside the test's temp space
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg"))


@pytest.fixture(scope="session")
def recording(tmp_path_factory):
    """A ~2 minute talk on four topics with known sentence, scene and silence times."""
    folder = tmp_path_factory.mktemp("talk")
    return make_recording(folder / "talk.mp4")


@pytest.fixture(scope="session")
def indexed(recording):
    """The recording indexed once through the CLI (faster-whisper ASR on the packaged model)."""
    proc = run_cli("index", recording.video)
    assert proc.returncode == 0, proc.stderr
    return recording


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLIPCUT, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def query_json(*args: str, cwd: Path | None = None) -> tuple[int, dict | None, str]:
    proc = run_cli("query", *args, "--json", cwd=cwd)
    data = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, data, proc.stderr


def search_in_fresh_process(video, query: str,
                            watch=("torch", "sentence_transformers", "open_clip", "librosa",
                                   "scenedetect")) -> tuple[list[dict], list[str]]:
    """clipcut.search() in a new Python process: (clips' modality splits, the ``watch``
    modules that it imported)."""
    code = ("import json, sys; from clipcut import api; from clipcut.config import load_config; "
            f"r = api.search({str(video)!r}, {query!r}, load_config()); "
            "print(json.dumps([[c.modality for c in r.clips], "
            f"sorted(m for m in {tuple(watch)!r} if m in sys.modules)]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ffprobe_duration(path: str | Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(Path(path).resolve())], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def copy_recording(recording, folder: Path, name: str = "talk.mp4") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / name
    shutil.copy(recording.video, dst)
    return dst


def write_cues(path: Path, cues) -> Path:
    """A WebVTT file with these (start, end, text) cues."""
    lines = ["WEBVTT", ""]
    for start, end, text in cues:
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}", text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_vtt(recording, path: Path) -> Path:
    """Exact captions for a synthetic recording: one cue per sentence."""
    return write_cues(path, [(s.start, s.end, s.text) for s in recording.sentences])


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only: by its mode for a normal user; for root, who writes through
    any mode, as a read-only bind mount of it (a read-only file system). Yields the path to
    use, or None where root may not mount."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mnt = folder.with_name(folder.name + "-ro")
    mnt.mkdir()
    bound = bool(shutil.which("mount")) and subprocess.run(
        ["mount", "--bind", str(folder), str(mnt)], capture_output=True).returncode == 0
    if not bound or subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)],
                                   capture_output=True).returncode != 0:
        if bound:
            subprocess.run(["umount", str(mnt)])
        mnt.rmdir()
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()
