"""The results page as a person opens it: real clips of the generated talk, written as a page
and loaded from file:// in Debian's chromium driven by Playwright, once for all the checks.
The page sits in its own folder, with spaces in its path, apart from the clips and the
recording, so that every relative link is walked up and URL-quoted."""
from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from clipcut.api import search
from clipcut.config import load_config
from clipcut.cut import cut_clips
from clipcut.errors import ExportError
from clipcut.export import page
from clipcut.query.confidence import query_words, stem
from clipcut.synth import COLOURS
from clipcut.types import Clip, clock

from .conftest import copy_recording, run_cli, write_cues

QUERY = "price & the football match"  # two topics' clips; "&" must come back as typed
SPEAKERS = {"pricing": "Ana", "astronomy": "Ben", "cooking": "Chloe", "football": "Dev"}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}
# a phone's screen, where the browser honours (or lacks) the page's viewport meta tag
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}

# what the page shows of each entry, read in the page
ENTRIES = """() => [...document.querySelectorAll('article.clip')].map(a => {
  const player = a.querySelector('video, audio');
  const about = a.querySelector('.about').getBoundingClientRect();
  return {rank: +a.dataset.rank, text: a.innerText, tag: player.tagName.toLowerCase(),
          src: player.getAttribute('src'), poster: player.getAttribute('poster'),
          marks: [...a.querySelectorAll('mark')].map(m => m.textContent),
          speakers: [...a.querySelectorAll('.who')].map(w => w.textContent),
          stacked: about.top >= player.getBoundingClientRect().bottom};
})"""
# the natural width of every thumbnail (posters are decoded the way an <img> is)
THUMB_WIDTHS = """() => Promise.all([...document.querySelectorAll('video[poster], img')].map(
  async e => { const i = new Image(); i.src = e.poster || e.src; await i.decode();
               return i.naturalWidth; }))"""


@pytest.fixture(scope="module")
def found(recording, tmp_path_factory):
    """The query's clips on a captioned copy of the talk (captions keep it fast), cut."""
    folder = tmp_path_factory.mktemp("page")
    video = copy_recording(recording, folder / "media")
    # beside the recording, so that search() finds the same captions (elsewhere, the cache
    # would look stale to it and the talk be indexed again, with ASR); voice tags name a
    # speaker per topic, so the turns come without diarizing the audio
    vtt = write_cues(video.with_suffix(".vtt"), [(s.start, s.end, f"<v {SPEAKERS[s.topic]}>"
                                                  f"{s.text}</v>") for s in recording.sentences])
    proc = run_cli("index", video, "--captions", vtt)
    assert proc.returncode == 0, proc.stderr
    result = search(video, QUERY, load_config(), n=3)
    assert len(result.clips) >= 2, "the talk should answer with more than one clip"
    clips = cut_clips(result.clips, folder / "clips", result.has_video, load_config().cut)
    return folder, result, clips


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium")
    if exe is None:  # a failure, not a skip: CI must run this test
        pytest.fail("chromium is missing: install Debian's (`apt-get install chromium`) to "
                    "test the results page")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, html: Path, device: dict):
    """``html`` loaded in a new tab on ``device``; returns the tab and the errors it logged
    (kept live)."""
    tab = browser.new_page(**device)
    errors = []
    tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(html.as_uri(), wait_until="load")
    return tab, errors


def local(html: Path, url: str) -> tuple[Path, str]:
    """The file a relative link of the page points at, and the link's fragment."""
    parts = urlsplit(urljoin(html.as_uri(), url))
    return Path(unquote(parts.path)), parts.fragment


def mean_colour(image: Path) -> tuple[int, int, int]:
    """The average RGB of an image, by ffmpeg scaling it to one pixel."""
    rgb = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(image), "-vf",
                          "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return tuple(rgb[:3])


def no_sideways_scroll(tab) -> bool:
    """Whether the page fits the screen's width (a page without a viewport tag is laid out
    wider than a phone's screen and zoomed out)."""
    return tab.evaluate("document.documentElement.scrollWidth") <= tab.viewport_size["width"]


def check_entries(tab, html: Path, clips) -> list[dict]:
    """One entry per clip in rank order, showing its times, every linked file there by a
    relative link, marked words that are the clip's query words; returns the entries."""
    assert tab.locator("h1").inner_text() == QUERY
    entries = tab.evaluate(ENTRIES)
    assert [e["rank"] for e in entries] == [c.rank for c in clips] == list(range(1, len(clips) + 1))
    wanted = {stem(w) for w in query_words(QUERY)}
    for e, clip in zip(entries, clips):
        assert clock(clip.start) in e["text"] and clock(clip.end) in e["text"]
        assert e["speakers"] == [t["speaker"] for t in clip.turns] and clip.speakers
        assert all(not re.match(r"[a-z]+:|/", url) for url in (e["src"], e["poster"] or ""))
        media, _ = local(html, e["src"])
        assert media.is_file(), e["src"]
        marked = {stem(m.lower()) for m in e["marks"]}
        assert marked <= wanted, e["marks"]
        assert marked == {stem(w) for w in clip.evidence.get("words", [])}
    assert any(e["marks"] for e in entries)
    return entries


def test_page_with_clip_files(recording, found, browser, tmp_path):
    folder, result, clips = found
    html = folder / "results page" / "clips & notes.html"
    page.write(html, QUERY, clips, result.has_video, no_cut=False)
    tab, errors = open_page(browser, html, LAPTOP)
    entries = check_entries(tab, html, clips)
    for e, clip in zip(entries, clips):
        assert e["tag"] == "video" and not e["stacked"]  # thumbnail beside the text
        media, fragment = local(html, e["src"])
        assert media.resolve() == Path(clip.file).resolve() and fragment == ""
        thumb = local(html, e["poster"])[0]
        assert thumb.resolve().parent == page.assets_dir(html).resolve()
        # grabbed from the middle of the clip: the colour card shown there
        card = COLOURS[bisect.bisect(recording.scene_cuts, (clip.start + clip.end) / 2)]
        expected = bytes.fromhex(card[2:])
        assert all(abs(a - b) < 16 for a, b in zip(mean_colour(thumb), expected)), card
    widths = tab.evaluate(THUMB_WIDTHS)
    assert len(widths) == len(clips) and all(w > 0 for w in widths)
    assert no_sideways_scroll(tab)
    phone, phone_errors = open_page(browser, html, PHONE)
    assert no_sideways_scroll(phone) and phone.evaluate(ENTRIES)[0]["stacked"]
    for shown, name in [(tab, "laptop.png"), (phone, "phone.png")]:
        shown.screenshot(path=str(tmp_path / name), full_page=True)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert errors == [] and phone_errors == []


def test_page_with_no_cut_on_a_phone(found, browser):
    folder, result, _ = found
    html = folder / "no-cut" / "results.html"
    page.write(html, QUERY, result.clips, result.has_video, no_cut=True)
    tab, errors = open_page(browser, html, PHONE)
    entries = check_entries(tab, html, result.clips)
    for e, clip in zip(entries, result.clips):
        media, fragment = local(html, e["src"])
        assert media.resolve() == Path(clip.video).resolve()
        start, end = map(float, re.fullmatch(r"t=([\d.]+),([\d.]+)", fragment).groups())
        assert abs(start - clip.start) < 5e-4 and abs(end - clip.end) < 5e-4
        assert e["stacked"]  # one column: the player above the text
    assert all(w > 0 for w in tab.evaluate(THUMB_WIDTHS))
    assert no_sideways_scroll(tab)
    assert errors == []


def test_audio_only_page(found, browser):
    folder, result, _ = found
    html = folder / "audio" / "results.html"
    audio_only = {video: False for video in result.has_video}
    page.write(html, QUERY, result.clips, audio_only, no_cut=True)
    tab, errors = open_page(browser, html, LAPTOP)
    entries = check_entries(tab, html, result.clips)
    assert {e["tag"] for e in entries} == {"audio"}
    assert tab.evaluate(THUMB_WIDTHS) == [] and not page.assets_dir(html).exists()
    assert errors == []


def test_page_text_times_and_ffmpeg_errors(tmp_path):
    assert [clock(t) for t in (0, 9.94, 59.96, 754.2, 3723.46)] == \
        ["0:00.0", "0:09.9", "1:00.0", "12:34.2", "1:02:03.5"]
    clip = Clip(video=str(tmp_path / "a <b>.m4a"), start=1.0, end=2.5, score=0.1,
                text="Prices & <script>alert(1)</script> priced", rank=1, weak=True,
                evidence={"words": ["price"]})
    html = tmp_path / "page.html"
    page.write(html, "<price>", [clip], {clip.video: False}, no_cut=True)
    text = html.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;price&gt;" in text
    assert text.count("<mark>") == 2 and "<mark>Prices</mark>" in text
    assert 'class="weak"' in text and "<li>confidence" not in text
    assert 'src="a%20%3Cb%3E.m4a#t=1.000,2.500"' in text
    # a frame ffmpeg cannot grab: one line naming the recording, and no page
    one_line = r"^\S*a <b>\.m4a: cannot grab a thumbnail at 1\.8 s: [^\n]+$"
    with pytest.raises(ExportError, match=one_line):
        page.write(tmp_path / "other.html", "price", [clip], {clip.video: True}, no_cut=True)
    assert not (tmp_path / "other.html").exists()
