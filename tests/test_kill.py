"""An index run killed with SIGKILL at any point leaves no cache or the previous valid one
(never a partial one), the next run succeeds, and the killed runs' temporary files go."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from clipcut import cache

from .conftest import CLIPCUT, copy_recording


def _index_killed_after(video, delay: float) -> bool:
    """Run `clipcut index --force` and SIGKILL it after ``delay`` s; True if it was killed."""
    proc = subprocess.Popen([*CLIPCUT, "index", str(video), "--force", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    return proc.wait() == -signal.SIGKILL


def test_sigkill_at_any_point_never_leaves_a_partial_cache(recording, tmp_path):
    video = copy_recording(recording, tmp_path)   # no captions: the ASR path
    sidecar = cache.sidecar_path(video)
    # killed before any cache exists: none is left
    assert _index_killed_after(video, 1.5)
    assert not sidecar.exists()
    # a whole run, timed (the second one: the first warms the page cache and can be much
    # slower, which let later runs finish before their kill), then runs killed across its
    # stages: start-up, audio, transcript, frames, text embeddings, writing
    assert subprocess.run([*CLIPCUT, "index", str(video), "-q"]).returncode == 0
    runs = []
    for _ in range(2):  # the shorter of two: a kill late in a run must land before its end
        t = time.perf_counter()
        assert subprocess.run([*CLIPCUT, "index", str(video), "--force", "-q"]).returncode == 0
        runs.append(time.perf_counter() - t)
    whole = min(runs)
    killed = 0
    for share in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95):
        killed += _index_killed_after(video, share * whole)
        names = {p.name for p in tmp_path.iterdir()}
        assert names - {video.name, sidecar.name} <= {n for n in names if n.endswith(".tmp")}
        # the previous cache, or this run's if it finished first: whole either way
        assert sidecar.exists() and cache.load(sidecar) is not None, f"killed at {share:.0%}"
    assert killed >= 5
    proc = subprocess.run([*CLIPCUT, "index", str(video), "--force", "-q"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert cache.load(sidecar) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([video.name, sidecar.name])


def test_a_killed_cut_leaves_no_partial_clip_and_the_next_run_cleans_up(indexed, tmp_path):
    """SIGKILL while ffmpeg writes a clip: only a hidden .part file may remain (never a clip
    file under its final name), and the next run removes it and cuts every clip."""
    out = tmp_path / "clips"
    cmd = [*CLIPCUT, "query", indexed.video, "pricing objection", "-n", "3", "-o", str(out),
           "--json", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(p.suffix == ".part" for p in out.iterdir()):
            os.killpg(proc.pid, signal.SIGKILL)   # clipcut and the ffmpeg it runs
            break
        time.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL, "the cut finished before a .part file was seen"
    left = [p for p in out.iterdir()]
    assert left and all(p.name.startswith(".") and p.suffix == ".part" for p in left), left
    # the clipcut pid in the .part name no longer runs (and its ffmpeg was killed with it):
    # the next run removes the file
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    files = sorted(Path(c["file"]).name for c in json.loads(done.stdout)["clips"])
    assert files and sorted(p.name for p in out.iterdir()) == files


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_sigterm_stops_a_run_cleanly_with_exit_143(recording, tmp_path):
    """A cron timeout or `kill`: one line, exit 143, no worker or ffmpeg left running, no
    cache file half written; the next run succeeds."""
    # three times the talk (6 minutes), so that each run is mid-way when the signal comes
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{recording.video}'\n" * 3)
    for name in ("a.mp4", "b.mp4"):
        subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                        "-c", "copy", str(tmp_path / name)], check=True)
    listing.unlink()
    # one file in this process, then the folder with two worker processes
    for args in ([str(tmp_path / "a.mp4")], [str(tmp_path), "--workers", "2", "--force"]):
        proc = subprocess.Popen([*CLIPCUT, "index", *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(6)   # models loaded, transcribing
        assert proc.poll() is None, "the run ended before it could be stopped"
        family = _children(proc.pid)
        family += [g for c in family for g in _children(c)]
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 143 and err.splitlines()[-1] == "clipcut: terminated", (args, err)
        assert "Traceback" not in err
        time.sleep(0.5)
        assert [p for p in family if _running(p)] == []
        for video in (tmp_path / "a.mp4", tmp_path / "b.mp4"):
            side = cache.sidecar_path(video)
            assert not side.exists() or cache.load(side) is not None
    # the single run unwound (its temporary file removed); killed workers may leave theirs,
    # which the next run removes
    proc = subprocess.run([*CLIPCUT, "index", str(tmp_path), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".clipcut", "a.mp4", "a.mp4.clipcut.npz", "b.mp4", "b.mp4.clipcut.npz"]  # + its library
