import os
import shutil

import numpy as np
import pytest

from clipcut import cache


def arrays(n_sent=3, n_win=2, d=4):
    rng = np.random.default_rng(0)
    return {
        "sent_start": np.arange(n_sent, dtype=np.float64), "sent_end": np.arange(n_sent) + 0.5,
        "sent_text": np.array([f"s{i}" for i in range(n_sent)]),
        "sent_emb": rng.normal(size=(n_sent, d)).astype(np.float32),
        "windows": np.array([[0, 30], [15, 45]], dtype=np.float64)[:n_win],
        "win_text": np.zeros((n_win, d), np.float32), "win_visual": np.zeros((n_win, 0), np.float32),
        "win_audio": np.zeros((n_win, 160), np.float32),
        "frame_times": np.zeros(0), "frame_emb": np.zeros((0, 0), np.float32),
        "audio_sec": np.zeros((45, 160), np.float32), "silences": np.zeros((0, 2)),
        "scenes": np.array([10.0]),
    }


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "a.mp4.clipcut.npz"
    meta = {"schema": cache.SCHEMA, "x": [1, 2]}
    cache.save(path, meta, arrays())
    idx = cache.load(path)
    assert idx.meta == meta
    for k, v in arrays().items():
        np.testing.assert_array_equal(getattr(idx, k), v)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_staleness_follows_the_source_fingerprint(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 5000)
    fp = cache.fingerprint(video)
    cache.save(cache.sidecar_path(video), {"schema": cache.SCHEMA, "source": fp}, arrays())
    idx = cache.load(cache.sidecar_path(video))
    assert cache.is_current(idx, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
    video.write_bytes(b"y" * 5000)  # same size, new content and mtime
    assert not cache.is_current(idx, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
    assert not cache.is_current(idx, {"schema": cache.SCHEMA + 1, "source": fp})


@pytest.mark.parametrize("damage", ["nan", "shape", "truncate", "pickle", "missing"])
def test_damaged_caches_are_refused(tmp_path, damage):
    path = tmp_path / "a.mp4.clipcut.npz"
    a = arrays()
    if damage == "nan":
        a["sent_emb"][0, 0] = np.nan
    elif damage == "shape":
        a["sent_emb"] = a["sent_emb"][:2]
    elif damage == "missing":
        del a["scenes"]
    if damage in ("nan", "shape"):
        cache.save(path, {"schema": cache.SCHEMA}, a)
    elif damage == "missing":
        np.savez(path, meta=np.array("{}"), **a)
    elif damage == "pickle":
        a["sent_text"] = np.array([{"evil": 1}], dtype=object)
        np.savez(path, meta=np.array("{}"), **a)
    else:
        cache.save(path, {"schema": cache.SCHEMA}, a)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    assert cache.load(path) is None


def test_read_only_folder_sends_cache_to_user_dir(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.write_path(video) == cache.sidecar_path(video)
    # root may write anywhere, so the folder's answer to access() is what is simulated
    monkeypatch.setattr(cache.os, "access", lambda *a, **k: False)
    target = cache.write_path(video)
    assert target.parent == tmp_path / "xdg" / "clipcut" and target.name.endswith(cache.SUFFIX)
    assert target in cache.candidates(video)


def test_model_ids_match_by_name_and_a_cache_may_record_more(tmp_path):
    path = tmp_path / "a.mp4.clipcut.npz"
    cache.save(path, {"schema": cache.SCHEMA, "models": {"text": "t", "visual": "v:on"}}, arrays())
    idx = cache.load(path)
    assert cache.is_current(idx, {"schema": cache.SCHEMA, "models": {"text": "t"}})
    assert cache.is_current(idx, {"schema": cache.SCHEMA, "models": {"text": "t", "visual": "v:on"}})
    assert not cache.is_current(idx, {"schema": cache.SCHEMA, "models": {"visual": "v:off"}})
    assert not cache.is_current(idx, {"schema": cache.SCHEMA, "models": {"asr": "x"}})


def test_a_killed_writers_temporary_file_is_removed_a_live_ones_kept(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "talk.mp4.clipcut.npz"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # a pid that has ended
    dead = tmp_path / f".talk.mp4.clipcut.npz.{done}.abc123.tmp"
    live = tmp_path / f".talk.mp4.clipcut.npz.{os.getpid()}.def456.tmp"
    other = tmp_path / f".other.mp4.clipcut.npz.{done}.x.tmp"
    for f in (dead, live, other):
        f.write_bytes(b"partial")
    cache.remove_orphans(target)
    assert not dead.exists() and live.exists() and other.exists()


@pytest.fixture(scope="module")
def captioned(recording, tmp_path_factory):
    """The recording with its captions, indexed once; each case damages a copy."""
    from .conftest import copy_recording, run_cli, write_vtt

    video = copy_recording(recording, tmp_path_factory.mktemp("captioned"))
    write_vtt(recording, video.with_suffix(".vtt"))
    assert run_cli("index", video).returncode == 0
    return video


@pytest.mark.parametrize("damage", ["truncated", "nan", "wrong shape", "pickled"])
def test_a_tampered_cache_is_rebuilt_with_a_warning(captioned, tmp_path, damage):
    from .conftest import run_cli

    video = tmp_path / captioned.name
    for src in (captioned, captioned.with_suffix(".vtt"), cache.sidecar_path(captioned)):
        shutil.copy(src, tmp_path / src.name)
    path = cache.sidecar_path(video)
    assert cache.load(path) is not None  # the copy is sound before the damage
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    else:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if damage == "nan":
            arrays["sent_emb"][0, 0] = np.nan
        elif damage == "wrong shape":
            arrays["win_text"] = arrays["win_text"][:, :10].ravel()
        else:
            arrays["meta"] = np.array([{"code": "would run on load"}], dtype=object)
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    proc = run_cli("index", video)
    assert proc.returncode == 0, proc.stderr
    assert "cache" in proc.stderr and "rebuilding it" in proc.stderr, proc.stderr
    rebuilt = cache.load(path)
    assert rebuilt is not None and np.isfinite(rebuilt.sent_emb).all()
