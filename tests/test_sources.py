"""Transcript sources and outputs beyond the default path: --captions, embedded subtitles,
folder search across recordings, stream-copy cutting. Captions keep these fast (no ASR)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from clipcut import cache
from clipcut.synth import TOPICS, make_recording

from .conftest import (CLIPCUT, ffprobe_duration, query_json, read_only, run_cli, write_cues,
                       write_vtt)


@pytest.fixture(scope="module")
def two_talks(tmp_path_factory):
    """A folder with two recordings on different topics, each with captions beside it."""
    folder = tmp_path_factory.mktemp("talks")
    a = make_recording(folder / "sales.mp4", {k: TOPICS[k] for k in ("pricing", "astronomy")})
    b = make_recording(folder / "sub" / "kitchen.mp4", {k: TOPICS[k] for k in ("cooking", "football")})
    for rec in (a, b):
        write_vtt(rec, Path(rec.video).with_suffix(".vtt"))
    return folder, a, b


def test_folder_index_then_search_ranks_across_recordings(two_talks, tmp_path):
    folder, a, b = two_talks
    proc = run_cli("index", folder)
    assert proc.returncode == 0, proc.stderr
    assert "2 indexed, 0 up to date, 0 failed" in proc.stderr
    rc, data, err = query_json(folder, "baking sourdough bread", "-n", "3", "-o", tmp_path / "c")
    assert rc == 0, err
    assert Path(data["clips"][0]["video"]).name == "kitchen.mp4"
    assert Path(data["clips"][0]["file"]).name.startswith("kitchen_01_")
    rc, data, err = query_json(folder, "telescope and planets", "-n", "3", "--no-cut")
    assert rc == 0 and Path(data["clips"][0]["video"]).name == "sales.mp4"
    proc = run_cli("index", folder)
    assert "0 indexed, 2 up to date, 0 failed" in proc.stderr


def test_stream_copy_cuts(two_talks, tmp_path):
    folder, a, _ = two_talks
    rc, data, err = query_json(a.video, "pricing objection", "-n", "1", "--copy", "-o", tmp_path)
    assert rc == 0, err
    f = Path(data["clips"][0]["file"])
    # stream copy cuts on keyframes: the file exists and is close to the asked-for length
    assert f.exists() and abs(ffprobe_duration(f) - (data["clips"][0]["end"] - data["clips"][0]["start"])) < 10


def test_explicit_captions_flag(two_talks, tmp_path):
    _, a, _ = two_talks
    video = tmp_path / "renamed.mp4"
    video.write_bytes(Path(a.video).read_bytes())
    vtt = write_vtt(a, tmp_path / "elsewhere.vtt")
    proc = run_cli("index", video, "--captions", vtt)
    assert proc.returncode == 0, proc.stderr
    idx = cache.load(cache.sidecar_path(video))
    assert idx.meta["caption_file"] == str(vtt.resolve())
    assert len(idx.sent_text) == len(a.sentences)


def test_a_cache_that_kept_captions_sound_notes_as_words_is_rebuilt(two_talks, tmp_path):
    """Captions that say what is heard ("[Music]") give text without the note; a cache made
    before notes were left out (no ``caption_notes`` entry, the note among its words) is made
    again by the next index, and a caption file without notes keeps its cache."""
    _, a, _ = two_talks
    video = tmp_path / "talk.mp4"
    video.write_bytes(Path(a.video).read_bytes())
    cues = [(s.start, s.end, s.text) for s in a.sentences]
    write_cues(video.with_suffix(".vtt"), [(0.0, cues[0][0], "[Music]")] + cues)
    assert run_cli("index", video).returncode == 0
    path = cache.sidecar_path(video)
    idx = cache.load(path)
    assert "[Music]" not in " ".join(idx.sent_text) and idx.meta["caption_notes"]
    old = {k: v for k, v in idx.meta.items() if k != "caption_notes"}
    texts = idx.sent_text.copy()
    texts[0] = "[Music] " + str(texts[0])
    cache.save(path, old, {**idx.arrays, "sent_text": texts})
    proc = run_cli("index", video)
    assert proc.returncode == 0, proc.stderr
    again = cache.load(path)
    assert "[Music]" not in " ".join(again.sent_text) and again.meta["caption_notes"]
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(Path(a.video).read_bytes())
    write_vtt(a, plain.with_suffix(".vtt"))
    assert run_cli("index", plain).returncode == 0
    made = cache.load(cache.sidecar_path(plain)).meta
    assert "caption_notes" not in made
    assert run_cli("index", plain).returncode == 0
    assert cache.load(cache.sidecar_path(plain)).meta["created"] == made["created"]


def test_embedded_subtitle_stream(two_talks, tmp_path):
    _, a, _ = two_talks
    vtt = write_vtt(a, tmp_path / "subs.vtt")
    video = tmp_path / "with-subs.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", a.video, "-i", str(vtt), "-map", "0", "-map", "1",
                    "-c", "copy", "-c:s", "mov_text", str(video)], check=True)
    rc, data, err = query_json(video, "comet after sunset", "-n", "1", "--no-cut")
    assert rc == 0, err
    idx = cache.load(cache.sidecar_path(video))
    assert idx.meta["captions"] == "embedded"
    assert idx.meta["models"]["transcript"] == "captions"
    assert "comet" in data["clips"][0]["text"].lower()


def test_two_indexers_on_one_file_both_succeed_and_build_once(two_talks, tmp_path):
    _, a, _ = two_talks
    video = tmp_path / "same.mp4"
    video.write_bytes(Path(a.video).read_bytes())
    write_vtt(a, video.with_suffix(".vtt"))
    cmd = [*CLIPCUT, "index", str(video), "-v"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(2)]
    errs = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum("indexed in" in e for e in errs) == 1 and sum("cache is current" in e for e in errs) == 1
    assert cache.load(cache.sidecar_path(video)) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.mp4", "same.mp4.clipcut.npz", "same.vtt"]


def test_folder_index_with_workers_reports_each_file_once(two_talks, tmp_path):
    import shutil

    folder = tmp_path / "batch"
    shutil.copytree(two_talks[0], folder, ignore=shutil.ignore_patterns("*.npz"))
    (folder / "broken.mp4").write_text("not a video")
    # the same recording named twice (folder + file) is indexed once
    proc = run_cli("index", folder, folder / "sales.mp4", "--workers", "2")
    assert proc.returncode == 2, proc.stderr
    assert "2 indexed, 0 up to date, 1 failed" in proc.stderr
    assert proc.stderr.count("broken.mp4") == 1 and "Traceback" not in proc.stderr
    for video in (folder / "sales.mp4", folder / "sub" / "kitchen.mp4"):
        assert cache.load(cache.sidecar_path(video)).meta["modalities"]["text"]
    proc = run_cli("index", folder, "-j", "2")
    assert "0 indexed, 2 up to date, 1 failed" in proc.stderr


def test_read_only_folder_caches_in_the_user_cache_dir(two_talks, tmp_path):
    _, a, _ = two_talks
    share = tmp_path / "share"
    share.mkdir()
    (share / "talk.mp4").write_bytes(Path(a.video).read_bytes())
    write_vtt(a, share / "talk.vtt")
    with read_only(share) as ro:
        if ro is None:
            pytest.skip("root without the right to mount: cannot make a folder read-only")
        video = ro / "talk.mp4"
        assert not os.access(ro, os.W_OK)
        proc = run_cli("index", video, "-v")
        assert proc.returncode == 0, proc.stderr
        assert "folder is read-only; caching in" in proc.stderr
        assert sorted(os.listdir(ro)) == ["talk.mp4", "talk.vtt"]
        fallback = cache.fallback_path(video)
        assert cache.load(fallback) is not None and not cache.sidecar_path(video).exists()
        built = fallback.stat().st_mtime_ns
        # queries find that cache (no rebuild) and cut into a writable -o
        rc, data, err = query_json(video, "telescope and planets", "-o", tmp_path / "clips")
        assert rc == 0, err
        start, end = a.topics["astronomy"]
        assert start - 1 <= data["clips"][0]["start"] < end
        assert Path(data["clips"][0]["file"]).is_file()
        assert fallback.stat().st_mtime_ns == built
        # the default -o (./clips) inside the read-only folder: one line, what to do, exit 2
        proc = run_cli("query", video, "telescope and planets", cwd=ro)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "cannot create output folder" in proc.stderr and "-o" in proc.stderr
        # a folder run works the same way; no library can be made there, and it says so
        proc = run_cli("index", ro)
        assert proc.returncode == 0 and sorted(os.listdir(ro)) == ["talk.mp4", "talk.vtt"]
        assert "no library made" in proc.stderr


def test_a_query_while_another_process_reindexes_reads_a_whole_cache(two_talks, tmp_path):
    _, a, _ = two_talks
    video = tmp_path / "talk.mp4"
    video.write_bytes(Path(a.video).read_bytes())
    write_vtt(a, video.with_suffix(".vtt"))
    assert run_cli("index", video).returncode == 0
    rc, first, err = query_json(video, "telescope and planets", "--no-cut")
    assert rc == 0, err
    answers = []
    for _ in range(3):   # each rebuild writes the cache again; queries run all through it
        indexer = subprocess.Popen([*CLIPCUT, "index", str(video), "--force", "-q"],
                                   stderr=subprocess.PIPE, text=True)
        while indexer.poll() is None:
            answers.append(query_json(video, "telescope and planets", "--no-cut"))
        assert indexer.wait() == 0, indexer.stderr.read()
        indexer.stderr.close()
    assert len(answers) >= 3
    for rc, data, err in answers:
        # a query that met a partial cache would rebuild it (a warning) and still answer
        assert rc == 0 and data == first and err == "", err
