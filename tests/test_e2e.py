"""End to end on a generated ~2 minute talk: ASR (packaged Whisper), index, query, cut."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from clipcut import cache

from .conftest import (copy_recording, ffprobe_duration, query_json, run_cli,
                       search_in_fresh_process, write_vtt)

QUERIES = {
    "pricing": "pricing objection and discounts",
    "astronomy": "looking at planets through a telescope",
    "cooking": "baking bread recipe",
    "football": "the winning goal in the match",
}


def inside(clip, span, slack=1.0):
    return clip["start"] >= span[0] - slack and clip["end"] <= span[1] + slack


@pytest.mark.parametrize("topic", list(QUERIES))
def test_each_topic_query_ranks_its_topic_first(indexed, topic, tmp_path):
    rc, data, err = query_json(indexed.video, QUERIES[topic], "-n", "3", "-o", tmp_path / "clips")
    assert rc == 0, err
    assert data["status"] == "ok"
    top = data["clips"][0]
    assert inside(top, indexed.topics[topic]), (top, indexed.topics[topic])
    assert top["rank"] == 1 and top["text"]
    assert set(top["modality"]) == {"text", "visual", "audio"}


@pytest.mark.parametrize("topic", ["astronomy", "football"])
def test_no_clip_is_carried_by_its_neighbours(indexed, topic):
    """Asking for more clips than the topic holds gives no clips from the topics just before
    and after it (their windows score well only through the neighbouring windows' context)."""
    rc, data, err = query_json(indexed.video, QUERIES[topic], "-n", "4", "--no-cut")
    assert rc == 0, err
    order = list(indexed.topics)
    i = order.index(topic)
    neighbours = [indexed.topics[t] for t in order[max(0, i - 1):i + 2] if t != topic]
    for clip in data["clips"]:
        mid = (clip["start"] + clip["end"]) / 2
        assert not any(a <= mid <= b for a, b in neighbours), clip


def test_clip_files_match_json_and_boundaries_are_sentence_ends(indexed, tmp_path):
    out = tmp_path / "clips"
    rc, data, err = query_json(indexed.video, "pricing objection", "-n", "3", "-o", out)
    assert rc == 0, err
    sentences = [(s.start, s.end) for s in indexed.sentences]
    for clip in data["clips"]:
        f = Path(clip["file"])
        assert f.exists() and f.parent == out
        assert abs(ffprobe_duration(f) - (clip["end"] - clip["start"])) <= 0.1
        # no edge inside a spoken sentence (ASR word times are good to a few tenths of a second)
        for t in (clip["start"], clip["end"]):
            assert not any(a + 0.3 < t < b - 0.3 for a, b in sentences), (t, clip)
        # and the clip holds whole sentences: its text starts and ends with real sentences
        assert any(abs(clip["start"] - a) <= 1.0 for a, _ in sentences), clip
        assert any(abs(clip["end"] - b) <= 1.0 for _, b in sentences), clip
    assert not list(out.glob(".*"))  # no temporary files left


def test_off_topic_query_finds_nothing(indexed, tmp_path):
    rc, data, err = query_json(indexed.video, "quantum chromodynamics lattice gauge theory",
                               "-o", tmp_path / "clips")
    assert rc == 1
    assert data["status"] == "no_match" and data["clips"] == []
    assert not (tmp_path / "clips").exists()
    proc = run_cli("query", indexed.video, "quantum chromodynamics lattice gauge theory", "--no-cut")
    assert proc.returncode == 1 and "No matching segments found" in proc.stdout


def test_json_is_byte_identical_across_runs(indexed):
    args = ("query", indexed.video, "telescope", "-n", "3", "--no-cut", "--json")
    a, b = run_cli(*args), run_cli(*args)
    assert a.returncode == 0 and a.stdout == b.stdout
    assert json.loads(a.stdout)["clips"][0]["file"] is None


def test_second_index_run_reuses_the_cache(indexed):
    path = cache.sidecar_path(Path(indexed.video))
    before = path.stat().st_mtime_ns
    proc = run_cli("index", indexed.video, "-v")
    assert proc.returncode == 0
    assert "cache is current" in proc.stderr
    assert path.stat().st_mtime_ns == before


def test_table_output_and_quiet_stderr(indexed, tmp_path):
    proc = run_cli("query", indexed.video, "football match", "-n", "2", "-o", tmp_path / "c")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert "football match" in lines[0]
    assert all(col in "".join(lines[:4]) for col in ("start", "end", "conf", "text", "file"))
    assert "goal" in proc.stdout.lower()  # the football topic's clip (goal, goalkeeper)
    assert "Traceback" not in proc.stderr


def test_existing_foreign_file_is_not_clobbered(indexed, tmp_path):
    out = tmp_path / "clips"
    rc, data, _ = query_json(indexed.video, "baking bread recipe", "-n", "1", "-o", out)
    assert rc == 0
    f = Path(data["clips"][0]["file"])
    # a rerun may overwrite its own clip ...
    rc, _, err = query_json(indexed.video, "baking bread recipe", "-n", "1", "-o", out)
    assert rc == 0, err
    # ... but not a file someone else put there
    f.write_bytes(b"precious")
    rc, _, err = query_json(indexed.video, "baking bread recipe", "-n", "1", "-o", out)
    assert rc == 2 and "--force" in err and f.read_bytes() == b"precious"
    rc, _, err = query_json(indexed.video, "baking bread recipe", "-n", "1", "-o", out, "--force")
    assert rc == 0 and f.read_bytes() != b"precious"


def test_time_phrase_moves_the_answer(indexed):
    # the same vague request lands at opposite ends of the talk, led by the time phrase alone
    first, last = indexed.topics["pricing"], indexed.topics["football"]
    rc, data, _ = query_json(indexed.video, "what they said near the end", "-n", "1",
                             "--no-cut", "--min-confidence", "0")
    assert rc == 0 and data["clips"][0]["end"] >= last[0]
    rc, data, _ = query_json(indexed.video, "what they said near the beginning", "-n", "1",
                             "--no-cut", "--min-confidence", "0")
    assert rc == 0 and data["clips"][0]["start"] <= first[1]


def test_captions_beside_the_video_replace_asr(recording, tmp_path):
    video = copy_recording(recording, tmp_path / "cap")
    write_vtt(recording, video.with_suffix(".vtt"))
    rc, data, err = query_json(video, "comet after sunset", "-n", "1", "--no-cut")
    assert rc == 0, err
    idx = cache.load(cache.sidecar_path(video))
    assert idx.meta["models"]["transcript"] == "captions"
    assert len(idx.sent_text) == len(recording.sentences)
    target = next(s for s in recording.sentences if "comet" in s.text)
    clip = data["clips"][0]
    assert clip["start"] <= target.start and clip["end"] >= target.end


def test_cache_built_from_another_directory_still_cuts(recording, tmp_path):
    """The cache remembers the name the recording had when it was indexed; cutting must use
    the name it has now."""
    video = copy_recording(recording, tmp_path / "rec")
    write_vtt(recording, video.with_suffix(".vtt"))
    assert run_cli("index", video.name, cwd=video.parent).returncode == 0
    rc, data, err = query_json("rec/talk.mp4", "pricing objection", "-n", "1", "-o", "clips",
                               cwd=tmp_path)
    assert rc == 0, err
    assert data["clips"][0]["video"] == "rec/talk.mp4"
    assert (tmp_path / data["clips"][0]["file"]).is_file()


def test_query_on_a_cached_index_imports_no_torch(indexed):
    clips, loaded = search_in_fresh_process(indexed.video, "telescope")
    assert len(clips) >= 1 and loaded == []
