#!/usr/bin/env python3
"""Screenshots of a demo results page for the README: docs/results-page.png (laptop width,
whole page) and docs/results-page-phone.png (a phone's first screen).

The demo is a generated sales call (three espeak-ng voices, captions naming them) shown as a
video call whose active speaker's tile lights up, indexed from its captions, searched, cut,
and written as a page with `clipcut.export.page`; shot in Debian's chromium via Playwright.
Needs espeak-ng, ffmpeg and chromium; no network.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from clipcut.api import search
from clipcut.config import load_config
from clipcut.cut import cut_clips
from clipcut.export import page
from clipcut.synth import make_conversation

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
QUERY = "security of customer data"
NAMES = {"A": "Maya", "B": "Tom", "C": "Priya"}
# the call's picture: one tile per speaker (x of its left edge, colour when speaking)
TILES = {"A": (20, "0x2E86AB"), "B": (226, "0xF18F01"), "C": (432, "0x44AF69")}
SIZE = (640, 360)       # px
TILE = (188, 188)       # px; tiles sit on one row in the middle of the frame
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def video_call(folder: Path) -> tuple[Path, Path]:
    """The demo recording and its captions: the conversation's audio over a picture of three
    tiles in which whoever speaks is lit."""
    call = make_conversation(folder / "voices.mp4")
    y = (SIZE[1] - TILE[1]) // 2
    boxes = [f"drawbox=x={x}:y={y}:w={TILE[0]}:h={TILE[1]}:color=0x3a4150:t=fill"
             for x, _ in TILES.values()]
    boxes += [f"drawbox=x={TILES[t.speaker][0]}:y={y}:w={TILE[0]}:h={TILE[1]}:"
              f"color={TILES[t.speaker][1]}:t=fill:enable='between(t,{t.start},{t.end})'"
              for t in call.turns]
    video = folder / "sales-call.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=0x1d2330:s={SIZE[0]}x{SIZE[1]}:r=25:d={call.duration:.3f}",
                    "-i", call.video, "-filter_complex", f"[0:v]{','.join(boxes)}[v]",
                    "-map", "[v]", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", "-c:a", "copy", "-shortest", str(video)],
                   check=True, capture_output=True)
    captions = folder / "sales-call.vtt"
    captions.write_text(call.vtt(NAMES), encoding="utf-8")
    return video, captions


def shoot(html: Path) -> None:
    """Screenshot ``html`` at a laptop's width (whole page) and a phone's (first screen)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        try:
            for viewport, scale, out, whole in [(LAPTOP, 1, "results-page.png", True),
                                                (PHONE, 2, "results-page-phone.png", False)]:
                tab = browser.new_page(viewport=viewport, device_scale_factor=scale)
                tab.goto(html.as_uri())
                # posters are not part of the load event: wait until every one is decoded
                tab.evaluate("""Promise.all([...document.querySelectorAll('video[poster]')]
                    .map(v => { const i = new Image(); i.src = v.poster; return i.decode(); }))""")
                # chromium shows a loading ring on each player for about a second
                tab.wait_for_timeout(1500)
                tab.screenshot(path=str(DOCS / out), full_page=whole)
                tab.close()
        finally:
            browser.close()


def main() -> int:
    if not shutil.which("chromium"):
        print("screenshot_page: chromium is missing; `apt-get install chromium`", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    cfg = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video, captions = video_call(folder)
        subprocess.run([sys.executable, "-m", "clipcut", "index", str(video),
                        "--captions", str(captions)], check=True, capture_output=True)
        result = search(video, QUERY, cfg, n=3)
        clips = cut_clips(result.clips, folder / "clips", result.has_video, cfg.cut)
        html = folder / "results.html"
        page.write(html, result.query, clips, result.has_video, no_cut=False)
        shoot(html)
    for name in ("results-page.png", "results-page-phone.png"):
        print(f"wrote {(DOCS / name).relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
