"""Editor timelines (--export) read back with OpenTimelineIO, and the files clipcut refuses to
write: on generated recordings at 29.97, 25 and 15 fps with exact captions."""
from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from clipcut.synth import TOPICS, make_recording

from .conftest import query_json, read_only, run_cli, write_vtt

FORMATS = (".otio", ".edl", ".xml", ".fcpxml")
SHORT = {k: TOPICS[k] for k in ("pricing", "astronomy", "cooking")}


def _indexed(folder: Path, name: str, fps: str) -> Path:
    rec = make_recording(folder / name, SHORT, fps=fps)
    # captions beside the recording (same stem), where the queries find them too
    proc = run_cli("index", rec.video, "--captions",
                   write_vtt(rec, (folder / name).with_suffix(".vtt")))
    assert proc.returncode == 0, proc.stderr
    return Path(rec.video)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """{fps: recording}: the same three-topic talk at 29.97, 25 and 15 frames per second,
    each in its own folder, and the first two also together in one folder."""
    root = tmp_path_factory.mktemp("rates")
    out = {}
    for fps, name in (("30000/1001", "ntsc"), ("25", "pal"), ("15", "screen")):
        (root / name).mkdir()
        out[fps] = _indexed(root / name, f"{name}.mp4", fps)
    return out


def _read(path: Path, rate: float):
    """The clips of a timeline file as OpenTimelineIO reads it: [(name, url, start s, end s)]
    of the first track, and how many tracks of each kind."""
    extra = {"rate": rate} if path.suffix == ".edl" else {}
    tl = otio.adapters.read_from_file(str(path), **extra)
    kinds = sorted(t.kind for t in tl.tracks)
    track = tl.tracks[0]
    out = []
    for c in track.find_clips():
        r = c.source_range
        out.append((c.name, c.media_reference.target_url, r.start_time.to_seconds(),
                    r.end_time_exclusive().to_seconds()))
    return out, kinds


def _read_fcpxml(path: Path):
    root = ET.parse(path).getroot()
    frame = {f.get("id"): Fraction(f.get("frameDuration")[:-1])
             for f in root.iter("format")}
    urls = {a.get("id"): a.find("media-rep").get("src") for a in root.iter("asset")}

    def sec(v: str) -> Fraction:
        return Fraction(v[:-1])

    out = []
    for c in root.iter("asset-clip"):
        start, dur = sec(c.get("start")), sec(c.get("duration"))
        assert start % frame[c.get("format")] == 0 and dur % frame[c.get("format")] == 0
        out.append((c.get("name"), urls[c.get("ref")], float(start), float(start + dur)))
    return out, frame


def _query_export(video: Path, tmp_path: Path, *extra: str) -> tuple[dict, dict[str, Path]]:
    paths = {ext: tmp_path / f"timeline{ext}" for ext in FORMATS}
    args = [video, "bread in the oven, and the price", "-n", "3", "--all",
            "-o", tmp_path / "clips", *extra]
    for p in paths.values():
        args += ["--export", p]
    code, data, err = query_json(*args)
    assert code == 0, err
    assert len(data["clips"]) >= 2
    return data, paths


@pytest.mark.parametrize("fps", ["30000/1001", "25"])
@pytest.mark.parametrize("cut", [False, True], ids=["no-cut", "clips"])
def test_every_timeline_reads_back_within_a_frame(videos, tmp_path, fps, cut):
    video = videos[fps]
    data, paths = _query_export(video, tmp_path, *([] if cut else ["--no-cut"]))
    rate = Fraction(fps)
    frame = float(1 / rate)
    want = []
    for c in data["clips"]:
        if cut:  # the timeline points at the clip files, from their first frame
            assert Path(c["file"]).exists()
            want.append((Path(c["file"]).resolve().as_uri(), 0.0, c["end"] - c["start"]))
        else:
            want.append((video.resolve().as_uri(), c["start"], c["end"]))
    for ext, path in paths.items():
        got, extra = _read_fcpxml(path) if ext == ".fcpxml" else _read(path, float(rate))
        assert len(got) == len(want), ext
        for (name, url, a, b), (wurl, wa, wb), c in zip(got, want, data["clips"]):
            assert url == wurl, ext
            assert abs(a - wa) <= frame and abs(b - wb) <= frame, (ext, a, b, wa, wb)
            assert name.startswith(f"{c['rank']:02d} "), (ext, name)
        if ext == ".fcpxml":
            assert list(extra.values()) == [1 / rate]        # the exact rate, as a fraction
        else:
            assert extra == ["Audio", "Video"], ext           # picture and sound
    edl = paths[".edl"].read_text()
    dropped = ";" in edl.split("\n", 4)[-1]
    assert ("FCM: DROP FRAME" in edl) == dropped == (fps == "30000/1001")
    reels = [ln.split()[1] for ln in edl.splitlines() if ln[:3].isdigit()]
    # one reel per media file: the recording (no-cut), or each clip file
    assert len(set(reels)) == (len(reels) if cut else 1)


def test_a_folder_of_two_rates_gives_otio_and_xml_and_refuses_one_edl(videos, tmp_path):
    folder = tmp_path / "both"
    folder.mkdir()
    for fps in ("30000/1001", "25"):
        src = videos[fps]
        (folder / src.name).symlink_to(src)
        (folder / (src.name + ".clipcut.npz")).symlink_to(str(src) + ".clipcut.npz")
    otio_file, xml_file, edl = tmp_path / "t.otio", tmp_path / "t.xml", tmp_path / "t.edl"
    code, data, err = query_json(folder, "stars through a telescope, and the price", "-n", "4",
                                 "--all", "--no-cut", "--export", otio_file, "--export",
                                 xml_file)
    assert code == 0, err
    assert len({c["video"] for c in data["clips"]}) == 2
    for path in (otio_file, xml_file):
        got, _ = _read(path, 25.0)
        for (_, url, a, b), c in zip(got, data["clips"]):
            fps = 25 if url.endswith("pal.mp4") else 30000 / 1001
            assert abs(a - c["start"]) <= 1 / fps and abs(b - c["end"]) <= 1 / fps
    proc = run_cli("query", folder, "stars through a telescope, and the price", "-n", "4",
                   "--all", "--no-cut", "--export", edl)
    assert proc.returncode == 2 and not edl.exists()
    assert "different frame rates" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_rate_without_timecode_gets_a_message_and_the_otio(videos, tmp_path):
    edl = tmp_path / "screen.edl"
    proc = run_cli("query", videos["15"], "bake bread", "--no-cut", "--export", edl)
    assert proc.returncode == 2 and not edl.exists()
    msg = proc.stderr.strip()
    assert len(msg.splitlines()) == 1 and "15 fps" in msg and "timecode" in msg
    got, _ = _read(edl.with_suffix(".otio"), 15.0)
    assert got and got[0][1] == videos["15"].resolve().as_uri()


def test_bad_export_requests_write_nothing(videos, tmp_path):
    video = videos["25"]
    # an unknown extension: refused before the search
    proc = run_cli("query", video, "bake bread", "--no-cut", "--export", tmp_path / "t.aaf")
    assert proc.returncode == 2 and "unknown timeline format" in proc.stderr
    assert ".otio" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    # no match: exit 1, no file
    target, reel = tmp_path / "none.otio", tmp_path / "none.mp4"
    proc = run_cli("query", video, "quantum chromodynamics lattice gauge theory", "--no-cut",
                   "--export", target, "--reel", reel)
    assert proc.returncode == 1 and not target.exists() and not reel.exists()
    # a file clipcut did not write: refused, left as it was, nothing else written
    mine = tmp_path / "mine.edl"
    mine.write_text("my own edit list\n")
    other = tmp_path / "other.otio"
    proc = run_cli("query", video, "bake bread", "--no-cut", "--export", other,
                   "--export", mine)
    assert proc.returncode == 2 and "not written by clipcut" in proc.stderr
    assert mine.read_text() == "my own edit list\n" and not other.exists()
    # with --force it is replaced; and clipcut's own file is replaced on the next run
    assert run_cli("query", video, "bake bread", "--no-cut", "--export", mine,
                   "--force").returncode == 0
    assert mine.read_text().startswith("TITLE:")
    assert run_cli("query", video, "bake bread", "--no-cut", "--export", mine).returncode == 0
    # an output folder that cannot be made
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("query", video, "bake bread", "--no-cut", "--export", blocker / "t.otio")
    assert proc.returncode == 2 and "cannot create folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    # a folder that cannot be written: refused before the clips are cut
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked) as ro:
        if ro is not None:
            proc = run_cli("query", video, "bake bread", "-o", tmp_path / "cut",
                           "--html", ro / "page.html")
            assert proc.returncode == 2 and "pick another place" in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1
            assert not (tmp_path / "cut").exists() or not any((tmp_path / "cut").iterdir())
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_json_of_the_export_matches_the_clips(videos, tmp_path):
    """The .otio carries each clip's rank, times, score and transcript."""
    path = tmp_path / "t.otio"
    code, data, err = query_json(videos["25"], "the price of the plan", "--no-cut",
                                 "--export", path)
    assert code == 0, err
    tl = otio.adapters.read_from_file(str(path))
    meta = [dict(c.metadata["clipcut"]) for c in tl.tracks[0].find_clips()]
    keys = ("rank", "start", "end", "score", "confidence", "text")
    assert [tuple(m[k] for k in keys) for m in meta] == \
        [tuple(c[k] for k in keys) for c in data["clips"]]


def test_one_query_writes_every_output_and_a_rerun_replaces_them(videos, tmp_path):
    """--subs, --burn-subs, --reel, --html and --export together through the CLI; the same
    command again overwrites clipcut's own files without --force."""
    out, reel, page = tmp_path / "clips", tmp_path / "reel.mp4", tmp_path / "page.html"
    args = [videos["25"], "bread in the oven, and the price", "-n", "3", "--all",
            "-o", out, "--subs", "--burn-subs", "--reel", reel, "--html", page,
            "--export", tmp_path / "t.fcpxml"]
    for attempt in range(2):
        code, data, err = query_json(*args)
        assert code == 0 and err == "", err
        clips = data["clips"]
        assert len(clips) >= 2
        for c in clips:
            srt = Path(c["file"]).with_suffix(".srt")
            assert srt.exists() and srt.read_text().startswith("1\n")
        chapters = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(reel)],
            capture_output=True, text=True, check=True).stdout)["chapters"]
        assert [ch["tags"]["title"].split()[0] for ch in chapters] == \
            [f"#{c['rank']}" for c in clips]
        html = page.read_text()
        assert all(Path(c["file"]).name in html for c in clips)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        ["clips", "page.html", "page_files", "reel.mp4", "t.fcpxml"]
