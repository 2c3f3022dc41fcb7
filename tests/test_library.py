"""Libraries end to end through the CLI: generated recordings with captions (known topics and
creation times), the real LanceDB and Milvus Lite engines, a Dask LocalCluster."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from clipcut import cache
from clipcut.synth import TOPICS, make_recording

from .conftest import CLIPCUT, query_json, read_only, run_cli, write_vtt

# name -> (topics, creation time tag)
RECORDINGS = {
    "sales.mp4": (("pricing",), "2024-01-10T09:00:00Z"),
    "sub/kitchen.mp4": (("cooking",), "2024-03-05T12:00:00Z"),
    "sub/deeper/stars.mp4": (("astronomy",), "2024-06-20T18:30:00Z"),
    "match.mp4": (("football",), ""),
}
QUERIES = {"sales.mp4": "discount on the enterprise plan price",
           "sub/kitchen.mp4": "baking sourdough bread",
           "sub/deeper/stars.mp4": "telescope pointed at Jupiter and its moons",
           "match.mp4": "the striker scored the winning goal"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The recordings once, with exact captions and creation_time tags."""
    folder = tmp_path_factory.mktemp("library-source")
    for name, (topics, created) in RECORDINGS.items():
        out = folder / name
        rec = make_recording(out.with_name("raw-" + out.name), {t: TOPICS[t] for t in topics})
        tags = ["-metadata", f"creation_time={created}"] if created else []
        subprocess.run(["ffmpeg", "-v", "error", "-i", rec.video, "-c", "copy", *tags, str(out)],
                       check=True)
        Path(rec.video).unlink()
        write_vtt(rec, out.with_suffix(".vtt"))
    return folder


def fresh(source: Path, dest: Path, names=None) -> Path:
    """A copy of (some of) the recordings with their captions."""
    for name in names or RECORDINGS:
        for src in (source / name, (source / name).with_suffix(".vtt")):
            target = dest / src.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target)
    return dest


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def status(folder: Path, *args) -> dict:
    return json.loads(ok(run_cli("library", "status", folder, "--json", *args)).stdout)


def top_video(folder, query, *args) -> str:
    rc, data, err = query_json(folder, query, "-n", "3", "--no-cut", *args)
    assert rc == 0, err
    return data["clips"][0]["video"]


def lance_rows(folder: Path) -> dict[str, set]:
    """Generations per recording in the window and sentence tables, read from disk."""
    import lance

    out: dict[str, set] = {}
    for table in ("window", "sentence"):
        t = lance.dataset(str(folder / ".clipcut" / "lance" / f"{table}.lance")).to_table(
            columns=["path", "generation"]).to_pydict()
        for p, g in zip(t["path"], t["generation"]):
            out.setdefault(p, set()).add(g)
    return out


def cache_rows(video: Path) -> int:
    idx = cache.load(cache.sidecar_path(video))
    return int((np.linalg.norm(idx.win_text, axis=1) > 0).sum() + len(idx.sent_start))


def test_library_lifecycle(source, tmp_path):
    lib = fresh(source, tmp_path / "recordings")
    proc = ok(run_cli("index", lib))
    assert "library" in proc.stderr and "4 added, 0 updated, 0 removed" in proc.stderr
    assert (lib / ".clipcut" / "library.json").is_file() and proc.stdout == ""
    for name, query in QUERIES.items():
        assert top_video(lib, query) == str(lib / name)
    st = status(lib)
    assert {r["path"]: r["state"] for r in st["recordings"]} == {n: "current" for n in RECORDINGS}
    assert st["totals"]["out_of_date"] == 0 and st["totals"]["size_bytes"] > 0
    assert sum(st["totals"]["rows"].values()) == sum(cache_rows(lib / n) for n in RECORDINGS)

    # found from a subfolder, like git: the query covers that subfolder only
    # (the pricing talk is not there: no confidence floor, so the best of what is there comes back)
    assert top_video(lib / "sub", QUERIES["sales.mp4"], "--min-confidence", "0").startswith(
        str(lib / "sub"))
    # one recording of the library queried alone still works
    assert top_video(lib / "sales.mp4", QUERIES["sales.mp4"]) == str(lib / "sales.mp4")

    # re-indexed (new captions): its old rows are gone, replaced by the new generation
    kitchen = lib / "sub" / "kitchen.mp4"
    old_gen = cache.load_meta(cache.sidecar_path(kitchen))["generation"]
    vtt = kitchen.with_suffix(".vtt")
    cues = vtt.read_text().split("\n\n")
    vtt.write_text("\n\n".join(cues[:-2]) + "\n")  # last sentence dropped
    proc = ok(run_cli("index", kitchen))
    assert "0 added, 1 updated, 0 removed" in proc.stderr
    new_gen = cache.load_meta(cache.sidecar_path(kitchen))["generation"]
    assert new_gen != old_gen and lance_rows(lib)["sub/kitchen.mp4"] == {new_gen}
    assert status(lib)["totals"]["rows"]["sentence"] + status(lib)["totals"]["rows"]["window"] == \
        sum(cache_rows(lib / n) for n in RECORDINGS)

    # deleted: pruned by the next index of the library (status says so before that)
    for f in lib.glob("match.*"):
        f.unlink()
    assert {r["path"]: r["state"] for r in status(lib)["recordings"]}["match.mp4"] == "missing"
    proc = ok(run_cli("index", lib))
    assert "0 added, 0 updated, 1 removed" in proc.stderr
    assert "match.mp4" not in lance_rows(lib)
    rc, data, _ = query_json(lib, QUERIES["match.mp4"], "-n", "5", "--no-cut")
    assert all("match.mp4" not in c["video"] for c in (data or {}).get("clips", []))

    # moved: a renamed folder keeps its caches current (content decides), rows follow it
    (lib / "sub").rename(lib / "moved")
    proc = ok(run_cli("index", lib))
    assert "0 indexed, 3 up to date" in proc.stderr
    assert "2 added, 0 updated, 2 removed" in proc.stderr
    assert top_video(lib, QUERIES["sub/kitchen.mp4"]) == str(lib / "moved" / "kitchen.mp4")
    assert sorted(lance_rows(lib)) == ["moved/deeper/stars.mp4", "moved/kitchen.mp4", "sales.mp4"]


def test_copies_keep_their_caches(source, tmp_path):
    """`cp` without -p (new mtimes), a hard link and a renamed copy keep a captioned cache
    current: staleness is decided by content, never by a path or a time."""
    a = fresh(source, tmp_path / "a", ["sales.mp4"])
    ok(run_cli("index", a / "sales.mp4"))
    built = cache.load_meta(cache.sidecar_path(a / "sales.mp4"))["generation"]
    b = tmp_path / "b"
    b.mkdir()
    for f in a.iterdir():
        shutil.copyfile(f, b / f.name)
    c = tmp_path / "c"
    c.mkdir()
    for f in a.iterdir():
        os.link(f, c / f.name.replace("sales", "renamed"))
    for video in (b / "sales.mp4", c / "renamed.mp4"):
        proc = ok(run_cli("index", video, "-v"))
        assert "0 indexed, 1 up to date" in proc.stderr, proc.stderr
        assert cache.load_meta(cache.sidecar_path(video))["generation"] == built


def test_milvus_backend(source, tmp_path):
    lib = fresh(source, tmp_path / "recordings", ["sales.mp4", "sub/kitchen.mp4"])
    uri = str(tmp_path / "milvus.db")
    proc = ok(run_cli("index", lib, "--library", uri))
    assert "2 added" in proc.stderr and Path(uri).exists()
    assert json.loads((lib / ".clipcut" / "library.json").read_text())["backend"] == "milvus"
    assert not (lib / ".clipcut" / "lance").exists()
    # the recorded backend is used without the flag; $CLIPCUT_LIBRARY works too
    assert top_video(lib, QUERIES["sub/kitchen.mp4"]) == str(lib / "sub" / "kitchen.mp4")
    proc = run_cli("query", lib, QUERIES["sales.mp4"], "--json", "--no-cut",
                   env={"CLIPCUT_LIBRARY": uri})
    assert json.loads(ok(proc).stdout)["clips"][0]["video"] == str(lib / "sales.mp4")
    # re-index and prune through the same store interface
    fresh(source, lib, ["sub/deeper/stars.mp4"])
    (lib / "sales.mp4").unlink()
    proc = ok(run_cli("index", lib))
    assert "1 added, 0 updated, 1 removed" in proc.stderr
    st = status(lib)
    assert st["backend"].startswith("milvus") and \
        sorted(r["path"] for r in st["recordings"]) == ["sub/deeper/stars.mp4", "sub/kitchen.mp4"]
    assert top_video(lib, QUERIES["sub/deeper/stars.mp4"]) == str(lib / "sub/deeper/stars.mp4")


def test_filters(source, tmp_path):
    lib = fresh(source, tmp_path / "recordings")
    ok(run_cli("index", lib))
    q = QUERIES["sales.mp4"]  # pricing talk lives in sales.mp4 only
    assert top_video(lib, q) == str(lib / "sales.mp4")
    # --in: only recordings whose path inside the library matches
    assert top_video(lib, q, "--in", "sub/*", "--min-confidence", "0").startswith(str(lib / "sub"))
    rc, data, _ = query_json(lib, q, "--in", "nothing-*", "--no-cut")
    assert rc == 1 and data["status"] == "no_match"
    # --since / --until: the creation_time tag (match.mp4 has none: its file time, today);
    # the pricing query then has to answer from the recordings those dates let through
    anyway = ("--min-confidence", "0")
    in_2024 = top_video(lib, q, "--since", "2024-02-01", "--until", "2024-12-31", *anyway)
    assert in_2024 in (str(lib / "sub" / "kitchen.mp4"), str(lib / "sub/deeper/stars.mp4"))
    assert top_video(lib, QUERIES["sub/kitchen.mp4"], "--until", "2024-01-10", *anyway) == \
        str(lib / "sales.mp4")
    assert top_video(lib, q, "--since", "2025-01-01", *anyway) == str(lib / "match.mp4")
    proc = run_cli("query", lib, q, "--since", "last tuesday")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "--since 'last tuesday' is not a date" in proc.stderr


def test_concurrent_indexers_and_queries(source, tmp_path):
    """4 indexers on different files of one library at once, and queries meanwhile: no
    process fails, readers never see a half-written recording, and every recording ends up
    in the library exactly once."""
    lib = fresh(source, tmp_path / "recordings")
    ok(run_cli("library", "sync", lib))  # an empty library: nothing indexed yet
    indexers = [subprocess.Popen([*CLIPCUT, "index", str(lib / n)], stderr=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for n in RECORDINGS]
    answers = []
    while any(p.poll() is None for p in indexers):
        proc = run_cli("query", lib, QUERIES["sales.mp4"], "--json", "--no-cut")
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode == 0:
            clips = json.loads(proc.stdout)["clips"]
            answers.append(clips[0]["video"])
    for p in indexers:
        out, err = p.communicate()
        assert p.returncode == 0 and "Traceback" not in err, err
    assert answers, "no query ran while the indexers did"
    st = status(lib)
    assert sorted(r["path"] for r in st["recordings"]) == sorted(RECORDINGS)
    assert all(r["state"] == "current" for r in st["recordings"])
    # exactly once: one generation per recording, and as many rows as their caches hold
    assert all(len(g) == 1 for g in lance_rows(lib).values())
    assert sum(st["totals"]["rows"].values()) == sum(cache_rows(lib / n) for n in RECORDINGS)
    assert top_video(lib, QUERIES["sales.mp4"]) == str(lib / "sales.mp4")


def test_dask_cluster(source, tmp_path):
    from distributed import Client, LocalCluster

    lib = fresh(source, tmp_path / "recordings", ["sales.mp4", "sub/kitchen.mp4", "match.mp4"])
    (lib / "broken.mp4").write_bytes(b"not a video")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        proc = run_cli("index", lib, "--cluster", cluster.scheduler_address)
        # a worker killed while it indexes: the scheduler reruns its task elsewhere
        fresh(source, lib, ["sub/deeper/stars.mp4"])
        run = subprocess.Popen([*CLIPCUT, "index", str(lib / "sub/deeper/stars.mp4"),
                                "--cluster", cluster.scheduler_address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        busy, deadline = {}, time.monotonic() + 60
        while not busy and time.monotonic() < deadline:
            busy = {w: t for w, t in client.processing().items() if t}
            time.sleep(0.05)
        assert busy, "the task never started"
        pids = client.run(os.getpid)
        os.kill(pids[next(iter(busy))], 9)
        _, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
        assert cache.sidecar_path(lib / "sub/deeper/stars.mp4").is_file()
    assert proc.returncode == 2, proc.stderr  # one bad file, reported like --workers does
    assert "3 indexed, 0 up to date, 1 failed" in proc.stderr
    assert "broken.mp4: not a media file" in proc.stderr
    assert "3 added" in proc.stderr
    for name in ("sales.mp4", "sub/kitchen.mp4", "match.mp4", "sub/deeper/stars.mp4"):
        assert cache.sidecar_path(lib / name).is_file()
        assert top_video(lib, QUERIES[name]) == str(lib / name)
    proc = run_cli("index", lib, "--cluster", "tcp://127.0.0.1:9")
    assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_bad_library_input(source, tmp_path):
    lib = fresh(source, tmp_path / "recordings", ["sales.mp4", "sub/kitchen.mp4"])
    ok(run_cli("index", lib))
    q = QUERIES["sub/kitchen.mp4"]

    t = time.monotonic()
    proc = run_cli("query", lib, q, "--library", "http://127.0.0.1:9")
    assert proc.returncode == 2 and "cannot reach the Milvus library" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and time.monotonic() - t < 60

    # damaged: a table deleted -> detected, rebuilt from the sidecars, still answers
    shutil.rmtree(lib / ".clipcut" / "lance" / "window.lance")
    proc = run_cli("query", lib, q, "--json", "--no-cut")
    assert proc.returncode == 0 and "rebuilding" in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["clips"][0]["video"] == str(lib / "sub" / "kitchen.mp4")
    # library.json gone -> the same
    (lib / ".clipcut" / "library.json").unlink()
    assert top_video(lib, q) == str(lib / "sub" / "kitchen.mp4")
    assert all(r["state"] == "current" for r in status(lib)["recordings"])

    # written by an older clipcut (before tables for other languages) -> rebuilt, says why
    meta = json.loads((lib / ".clipcut" / "library.json").read_text())
    (lib / ".clipcut" / "library.json").write_text(json.dumps({**meta, "version": 1}))
    proc = run_cli("query", lib, q, "--json", "--no-cut")
    assert proc.returncode == 0 and "library of an older clipcut; rebuilding" in proc.stderr
    assert json.loads(proc.stdout)["clips"][0]["video"] == str(lib / "sub" / "kitchen.mp4")
    assert json.loads((lib / ".clipcut" / "library.json").read_text())["version"] == 2

    # built with another text model: one line, exit 2, says what to do
    meta = json.loads((lib / ".clipcut" / "library.json").read_text())
    meta["fit"]["text_model"] = "text:other-model"
    (lib / ".clipcut" / "library.json").write_text(json.dumps(meta))
    proc = run_cli("query", lib, q)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "built with text model text:other-model" in proc.stderr and "clipcut index" in proc.stderr
    ok(run_cli("index", lib))  # rebuilt for the current model
    assert top_video(lib, q) == str(lib / "sub" / "kitchen.mp4")

    # a read-only library folder: queries work, indexing into it is a one-line error
    with read_only(lib) as ro:
        if ro is None:
            pytest.skip("read-only bind mounts need mount rights")
        assert top_video(ro, q) == str(ro / "sub" / "kitchen.mp4")
        proc = run_cli("index", ro / "sales.mp4")
        assert proc.returncode == 2 and "library folder is not writable" in proc.stderr
        assert "Traceback" not in proc.stderr
