"""The results page: one static HTML file a person can scan, for each clip a frame from its
middle, its rank, times, score and confidence, the transcript with the query's words marked,
and a player (the clip file, or with ``--no-cut`` the recording opened at the clip's span by a
``#t=START,END`` media fragment).

Self-contained apart from the media it links: CSS inline, no script, no network, no fonts to
fetch. Thumbnails go in a folder beside the page (``results_files/`` for ``results.html``)
and every link is relative, so the page, its folder and the media can be moved together.
"""
from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

from ..cut import clip_name
from ..errors import ExportError
from ..query.confidence import stem
from ..types import Clip, clock
from . import files

THUMB_WIDTH = 640     # px: sharp at the player's widest (about 320 CSS px) on 2x screens
THUMB_QUALITY = 4     # ffmpeg's JPEG scale, 2 (best) to 31
WORD = re.compile(r"[A-Za-z0-9]+")  # what the query words were matched on (confidence.stems)


def assets_dir(path: Path) -> Path:
    """The folder beside the page that holds its thumbnails: ``results_files/`` for
    ``results.html`` (the name browsers give a saved page's files)."""
    return path.with_name(f"{path.stem}_files")


def _thumbnail_path(path: Path, clip: Clip) -> Path:
    """Where the page for ``path`` keeps the thumbnail of ``clip``."""
    return assets_dir(path) / clip_name(clip, ".jpg")


def outputs(path: Path, clips: list[Clip], has_video: dict[str, bool]) -> list[Path]:
    """Every file ``write`` writes: the thumbnails, then the page (for name-clash checks)."""
    return [_thumbnail_path(path, c) for c in clips if has_video.get(c.video, True)] + [path]


def _length(t: float) -> str:
    """A clip's length: seconds under a minute, a clock time above."""
    return f"{t:.1f} s" if round(t, 1) < 60 else clock(t)


def write(path: Path, query: str, clips: list[Clip], has_video: dict[str, bool],
          no_cut: bool) -> None:
    """Write the results page ``path`` for ``clips`` found for ``query``, with a thumbnail per
    clip with video in ``assets_dir(path)``. Players use ``clip.file``, or with ``no_cut`` the
    recording itself at the clip's span. Thumbnails are written first and the page last, each
    atomically; raises ExportError when ffmpeg cannot grab a frame."""
    path = Path(path)
    clips = sorted(clips, key=lambda c: c.rank)
    thumbs = [_thumbnail_path(path, c) if has_video.get(c.video, True) else None for c in clips]
    for clip, thumb in zip(clips, thumbs):
        if thumb:
            _grab_frame(Path(clip.video), (clip.start + clip.end) / 2, thumb)
    files.make_folder(path.parent)
    files.write_text(path, _render(path, query, clips, has_video, no_cut, thumbs))
    _remove_stale(assets_dir(path), set(thumbs))


def _remove_stale(folder: Path, keep: set[Path | None]) -> None:
    """Delete the thumbnails an earlier page left that this one does not show; only those
    clipcut wrote and nobody changed since, so a rerun does not pile them up."""
    for old in folder.glob("*.jpg"):
        if old not in keep and files.written_by_clipcut(old):
            old.unlink(missing_ok=True)


def _grab_frame(src: Path, t: float, dst: Path) -> None:
    """One JPEG frame of ``src`` at ``t`` seconds, at most THUMB_WIDTH wide, written to ``dst``."""
    files.make_folder(dst.parent)
    # square pixels first (anamorphic sources), never upscaled, even height for the encoder
    scale = f"scale='min({THUMB_WIDTH},iw*sar)':-2,setsar=1"
    with files.atomic(dst) as tmp:
        args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-ss", f"{t:.3f}", "-i", str(src.resolve()), "-map", "0:v:0", "-frames:v", "1",
                "-vf", scale, "-q:v", str(THUMB_QUALITY), "-f", "mjpeg", str(tmp)]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise ExportError("ffmpeg is not installed; `apt-get install ffmpeg`") from None
        if proc.returncode != 0 or tmp.stat().st_size == 0:
            lines = proc.stderr.strip().splitlines()
            raise ExportError(f"cannot grab a thumbnail at {t:.1f} s: "
                              f"{lines[-1] if lines else 'ffmpeg wrote no frame'}", path=src)


def _link(target: str | Path, page: Path) -> str:
    """``target`` as a URL relative to the page's folder."""
    return quote(os.path.relpath(Path(target).resolve(), page.parent.resolve()))


def _highlight(text: str, words: list[str]) -> str:
    """``text`` as escaped HTML with each word that matches one of ``words`` in <mark>; words
    match by the same crude stem the query words were found by (``price`` marks ``prices``)."""
    wanted = {stem(w.lower()) for w in words}
    out, pos = [], 0
    for m in WORD.finditer(text):
        if stem(m.group().lower()) in wanted:
            out += [html.escape(text[pos:m.start()]), f"<mark>{html.escape(m.group())}</mark>"]
            pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _transcript(clip: Clip) -> str:
    words = clip.evidence.get("words", [])
    if not clip.speakers:
        return f'<p>{_highlight(clip.text, words)}</p>'
    return "".join(f'<p><span class="who">{html.escape(t["speaker"] or "?")}</span> '
                   f'{_highlight(t["text"], words)}</p>' for t in clip.turns)


def _player(clip: Clip, page: Path, video: bool, thumb: Path | None, no_cut: bool) -> str:
    if no_cut or not clip.file:
        # the recording itself; the fragment makes the browser start and stop at the clip
        src = f"{_link(clip.video, page)}#t={clip.start:.3f},{clip.end:.3f}"
    else:
        src = _link(clip.file, page)
    src = html.escape(src)
    if video:
        poster = f' poster="{html.escape(_link(thumb, page))}"' if thumb else ""
        return f'<video controls preload="none"{poster} src="{src}"></video>'
    return ('<div class="audio-only" aria-hidden="true"><span>&#9835;</span> audio</div>'
            f'<audio controls preload="none" src="{src}"></audio>')


def _facts(clip: Clip) -> str:
    facts = [f"score {clip.score:.3f}"]
    if clip.confidence is not None:
        facts.append(f"confidence {clip.confidence:.0%}")
    if clip.speakers:
        facts.append("speakers " + ", ".join(clip.speakers))
    facts.append(Path(clip.video).name)
    items = "".join(f"<li>{html.escape(f)}</li>" for f in facts)
    if clip.weak:
        items += '<li class="weak" title="under the confidence floor">weak</li>'
    return f'<ul class="facts">{items}</ul>'


def _entry(clip: Clip, page: Path, video: bool, thumb: Path | None, no_cut: bool) -> str:
    span = f"{clock(clip.start)} &ndash; {clock(clip.end)}"
    return (f'<article class="clip" id="clip-{clip.rank}" data-rank="{clip.rank}" '
            f'data-start="{clip.start:.3f}" data-end="{clip.end:.3f}">\n'
            f'<div class="media">{_player(clip, page, video, thumb, no_cut)}</div>\n'
            f'<div class="about">\n'
            f'<h2><span class="rank">#{clip.rank}</span> <span class="span">{span}</span> '
            f'<span class="length">{_length(clip.duration)}</span></h2>\n'
            f'{_facts(clip)}\n<div class="transcript">{_transcript(clip)}</div>\n'
            f'</div>\n</article>')


def _render(path: Path, query: str, clips: list[Clip], has_video: dict[str, bool],
           no_cut: bool, thumbs: list[Path | None]) -> str:
    """The page's HTML; ``thumbs`` holds each clip's thumbnail file (None without video)."""
    path = Path(path)
    count = f"{len(clips)} clip{'s' * (len(clips) != 1)}"
    sources = list(dict.fromkeys(Path(c.video).name for c in clips))
    origin = (f" from {sources[0]}" if len(sources) == 1
              else f" from {len(sources)} recordings" if sources else "")
    played = " · players open the recording at each clip" if no_cut else ""
    entries = "\n".join(_entry(c, path, has_video.get(c.video, True), thumb, no_cut)
                        for c, thumb in zip(clips, thumbs))
    if not clips:
        entries = '<p class="none">No clip answers this query.</p>'
    return PAGE.format(title=html.escape(f"{query} · {count} · clipcut"), css=CSS,
                       query=html.escape(query), summary=html.escape(count + origin + played),
                       entries=entries)


CSS = """
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --ink: #1d2330;
  --muted: #5d6675; --line: #e1e4ea; --accent: #2457c5; --mark: #ffe27a; --weak: #a65b00; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171c; --card: #1d2128; --ink: #e6e8ec; --muted: #9aa3b1;
    --line: #2c323c; --accent: #7ea6ff; --mark: #6b5a12; --weak: #f0a64a; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.5;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main { max-width: 1040px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 24px; padding-bottom: 8px; }
.brand { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .08em;
  text-transform: uppercase; }
h1 { margin: 4px 0; font-size: 26px; line-height: 1.25; overflow-wrap: anywhere; }
.summary { margin: 0; color: var(--muted); }
main { display: grid; gap: 16px; padding-bottom: 32px; }
.clip { display: grid; grid-template-columns: minmax(0, 320px) minmax(0, 1fr); gap: 20px;
  background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px; }
/* a video takes its poster's shape; the audio placeholder a common one */
.media video { display: block; width: 100%; height: auto; border-radius: 8px; background: #000; }
.media .audio-only { aspect-ratio: 16 / 9; border-radius: 8px; display: grid;
  place-items: center; color: #fff; font-size: 15px;
  background: linear-gradient(135deg, #2457c5, #7a3fb0); }
.audio-only span { font-size: 40px; line-height: 1; }
.media audio { display: block; width: 100%; margin-top: 8px; }
h2 { margin: 0; font-size: 18px; font-weight: 600; display: flex; flex-wrap: wrap;
  gap: 4px 12px; align-items: baseline; }
.rank { color: var(--accent); }
.span { font-variant-numeric: tabular-nums; }
.length { color: var(--muted); font-weight: 400; font-size: 15px; }
.facts { list-style: none; margin: 6px 0 10px; padding: 0; display: flex; flex-wrap: wrap;
  gap: 6px; font-size: 13px; color: var(--muted); }
.facts li { border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px;
  overflow-wrap: anywhere; }
.facts .weak { color: var(--weak); border-color: currentColor; font-weight: 600; }
.transcript p { margin: 0 0 8px; overflow-wrap: anywhere; }
.who { display: inline-block; min-width: 2.2em; margin-right: 4px; padding: 0 6px;
  border-radius: 4px; background: var(--line); font-size: 13px; font-weight: 600;
  text-align: center; }
mark { background: var(--mark); color: inherit; border-radius: 3px; padding: 0 2px; }
.none { color: var(--muted); }
@media (max-width: 640px) {
  .clip { grid-template-columns: minmax(0, 1fr); gap: 12px; padding: 12px; }
  .media .audio-only { display: none; }  /* the player says enough where space is short */
  h1 { font-size: 22px; } }
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>{css}</style>
</head>
<body>
<header>
<p class="brand">clipcut results</p>
<h1>{query}</h1>
<p class="summary">{summary}</p>
</header>
<main>
{entries}
</main>
</body>
</html>
"""
