"""What leaves clipcut besides the table: clip files, subtitles, editor timelines, a highlight
reel and a results page, written in that order once every target name has been checked (a
file clipcut did not write is never overwritten without ``force``; nothing is written when
one target is refused)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import CutOptions
from ..cut import clip_name, cut_clips, plan
from ..errors import ExportError
from ..types import Clip
from . import files, reel, timeline
from .probe import probe, without_video

PAGE_EXTENSIONS = (".html", ".htm")


@dataclass(frozen=True)
class ExportRequest:
    """What to write besides the clip files."""

    timelines: tuple[Path, ...] = ()
    reel: Path | None = None
    reel_order: str = "rank"          # "rank" | "time"
    subs: bool = False                # an .srt beside each clip
    burn_subs: bool = False           # subtitles rendered into the clips
    html: Path | None = None

    @property
    def outputs(self) -> bool:
        """Whether a file is asked for that needs clips (none is written on no match)."""
        return bool(self.timelines or self.reel or self.html or self.subs or self.burn_subs)


def validate(req: ExportRequest, no_cut: bool) -> None:
    """Refuse what cannot work before any search or write: unknown formats, and options that
    contradict each other."""
    for path in req.timelines:
        timeline.check_target(path)
    if req.reel is not None:
        reel.check_target(req.reel)
    if req.html is not None and req.html.suffix.lower() not in PAGE_EXTENSIONS:
        raise ExportError("the results page is an HTML file; name it .html", path=req.html)
    if req.reel_order not in reel.ORDERS:
        raise ExportError(f"unknown --reel-order {req.reel_order!r}; use "
                          + " or ".join(reel.ORDERS))
    if req.burn_subs and no_cut:
        raise ExportError("--burn-subs renders subtitles into the clip files; drop --no-cut")
    if len(set(map(_abs, req.timelines))) != len(req.timelines):
        raise ExportError("the same --export file is given twice")


def _abs(p: Path) -> Path:
    return Path(p).expanduser().resolve()


def _srt_path(clip: Clip, out_dir: Path) -> Path:
    return out_dir / clip_name(clip, ".srt")


def deliver(clips: list[Clip], has_video: dict[str, bool], req: ExportRequest, out_dir: Path,
            cut_opts: CutOptions, no_cut: bool, force: bool, query: str) -> list[Clip]:
    """Write the clips (unless ``no_cut``) and everything ``req`` asks for; returns the clips
    with their files set."""
    out_dir = Path(out_dir)
    if not no_cut:
        clips = plan(clips, out_dir, has_video, force)   # refuses clashes with user files
    sources = {v: probe(v) if has_video.get(v, True) else without_video(probe(v))
               for v in dict.fromkeys(c.video for c in clips)} if req.timelines else {}
    targets = [_srt_path(c, out_dir) for c in clips] if req.subs else []
    targets += [timeline.output(_abs(p), sources) for p in req.timelines]
    targets += [_abs(req.reel)] if req.reel else []
    if req.html:
        from . import page

        targets += page.outputs(_abs(req.html), clips, has_video)
    files.check(targets, force)

    burn: dict[str, str] = {}
    if req.subs or req.burn_subs:
        from . import subtitles

        for c in clips:
            text = subtitles.srt(c)
            if req.subs:
                files.write_text(_srt_path(c, out_dir), text)
            if req.burn_subs and c.file:
                burn[c.file] = text
    if not no_cut:
        clips = cut_clips(clips, out_dir, has_video, cut_opts, force, subtitles=burn or None)

    failed: list[ExportError] = []   # one format that cannot be written stops no other
    if req.timelines:
        items = timeline.entries(clips, has_video, not no_cut, sources)
        for path in req.timelines:
            try:
                timeline.write(_abs(path), items, f"clipcut: {query}", sources)
            except ExportError as exc:
                failed.append(exc)
    if req.reel:
        reel.write(_abs(req.reel), clips, has_video, req.reel_order, cut_opts)
    if req.html:
        page.write(_abs(req.html), query, clips, has_video, no_cut)
    if failed:
        raise failed[0]
    return clips
