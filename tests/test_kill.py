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
    # a whole run, timed, then runs killed across its stages: start-up, audio, transcript,
    # frames, text embeddings, writing
    t = time.perf_counter()
    assert subprocess.run([*CLIPCUT, "index", str(video), "-q"]).returncode == 0
    whole = time.perf_counter() - t
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
