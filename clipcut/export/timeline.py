"""Editor timelines of the clips: OpenTimelineIO (.otio), CMX 3600 EDL (.edl) and Final Cut 7
XML (.xml, which Premiere and Resolve import) through OpenTimelineIO's adapters, and Final Cut
Pro's FCPXML (.fcpxml) written here (the FCPX adapter mishandles 29.97 and 23.976).

Every source range is counted in frames of the recording's own rate, kept as a fraction
(30000/1001 stays exact); clips stand one after another on the record side, in rank order.
Media are referenced by absolute file URL: the clip files, or with ``--no-cut`` the recordings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..errors import ExportError
from ..types import Clip, clock
from . import files
from .probe import Source

FORMATS = {".otio": "OpenTimelineIO", ".edl": "CMX 3600 EDL", ".xml": "Final Cut 7 XML",
           ".fcpxml": "FCPXML"}
# rates that have a timecode form (SMPTE), as the editors' formats know them
TIMECODE_RATES = {Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001),
                  Fraction(30), Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60)}
AUDIO_ONLY_RATE = Fraction(25)  # the frame grid of a recording without video


def drop_frame(fps: Fraction) -> bool:
    """Whether timecode at ``fps`` is drop-frame (29.97 and 59.94)."""
    return fps.denominator == 1001 and fps.numerator % 30000 == 0


def has_timecode(src: Source) -> bool:
    """Whether the recording's frames can be counted in timecode (a constant SMPTE rate)."""
    return src.rate is None or (not src.variable and src.rate in TIMECODE_RATES)


@dataclass(frozen=True)
class Entry:
    """One clip on the timeline: its media, and where it lies in it in frames."""

    clip: Clip
    media: Path       # absolute
    rate: Fraction
    first: int        # first frame in the media
    frames: int       # length in frames
    available: int    # the media's length in frames
    has_video: bool
    name: str

    @property
    def seconds(self) -> tuple[float, float]:
        return float(self.first / self.rate), float((self.first + self.frames) / self.rate)


def entries(clips: list[Clip], has_video: dict[str, bool], cut: bool,
            sources: dict[str, Source]) -> list[Entry]:
    """The timeline's clips, from the clip files (``cut``) or the recordings. A recording
    without video takes the first video's rate (or 25 fps)."""
    video_rates = [s.rate for s in sources.values() if s.rate is not None]
    fallback = video_rates[0] if video_rates else AUDIO_ONLY_RATE
    out = []
    for c in clips:
        src = sources[c.video]
        fps = src.rate if src.rate is not None else fallback
        a, b = round(c.start * fps), round(c.end * fps)
        frames = max(1, b - a)
        if cut and c.file:
            media, first, available = Path(c.file), 0, frames
        else:
            media, first, available = Path(c.video), a, max(a + frames, round(src.duration * fps))
        out.append(Entry(c, media.resolve(), fps, first, frames, available,
                         has_video.get(c.video, True),
                         f"{c.rank:02d} {Path(c.video).stem} {clock(c.start)}-{clock(c.end)}"))
    return out


def _reels(items: list[Entry]) -> dict[Path, str]:
    """A distinct CMX reel name (8 characters, letters and digits) for each media file."""
    names: dict[Path, str] = {}
    for e in items:
        if e.media in names:
            continue
        base = re.sub(r"[^A-Za-z0-9]", "", e.media.stem).upper()[:8] or "CLIP"
        name, n = base, 1
        while name in names.values():
            n += 1
            name = base[:8 - len(str(n))] + str(n)
        names[e.media] = name
    return names


def to_otio(items: list[Entry], title: str):
    """An OpenTimelineIO timeline: a video track (when the clips have video) and an audio
    track, the clips in order with their source ranges in each media's own rate."""
    import opentimelineio as otio

    rt = otio.opentime.RationalTime
    tl = otio.schema.Timeline(name=title)
    reels = _reels(items)
    kinds = [otio.schema.TrackKind.Video] if all(e.has_video for e in items) else []
    for kind in kinds + [otio.schema.TrackKind.Audio]:
        track = otio.schema.Track(name="V1" if kind == otio.schema.TrackKind.Video else "A1",
                                  kind=kind)
        for e in items:
            fps = float(e.rate)
            ref = otio.schema.ExternalReference(
                target_url=e.media.as_uri(),
                available_range=otio.opentime.TimeRange(rt(0, fps), rt(e.available, fps)))
            ref.name = e.media.name
            clip = otio.schema.Clip(
                name=e.name, media_reference=ref,
                source_range=otio.opentime.TimeRange(rt(e.first, fps), rt(e.frames, fps)))
            c = e.clip
            clip.metadata["clipcut"] = {
                "rank": c.rank, "video": c.video, "start": round(c.start, 3),
                "end": round(c.end, 3), "score": round(c.score, 4),
                "confidence": None if c.confidence is None else round(c.confidence, 4),
                "text": c.text, "rate": f"{e.rate.numerator}/{e.rate.denominator}"}
            clip.metadata["cmx_3600"] = {"reel": reels[e.media]}
            track.append(clip)
        tl.tracks.append(track)
    return tl


def _edl(items: list[Entry], title: str) -> str:
    import opentimelineio as otio

    rates = {e.rate for e in items}
    if len(rates) > 1:
        raise ExportError("the clips come from recordings with different frame rates, which "
                          "one EDL cannot hold; export .otio or .xml, or query one recording")
    rate = float(rates.pop())
    text = otio.adapters.write_to_string(to_otio(items, title), "cmx_3600", rate=rate)
    fcm = "FCM: DROP FRAME" if drop_frame(items[0].rate) else "FCM: NON-DROP FRAME"
    lines = text.splitlines()
    if all(e.has_video for e in items):
        # the adapter writes the video track only; "B" takes the source's first audio with it
        lines = [re.sub(r"^(\d{3,}  \S+\s+)V    ", r"\1B    ", ln) for ln in lines]
    return "\n".join(lines[:1] + [fcm] + lines[1:]) + "\n"


def _t(frames: int, fps: Fraction) -> str:
    """An FCPXML time: a rational number of seconds on the frame grid."""
    value = Fraction(frames) / fps
    return f"{value.numerator}/{value.denominator}s" if value.denominator != 1 \
        else f"{value.numerator}s"


def _fcpxml(items: list[Entry], title: str) -> str:
    """FCPXML 1.10: one format per rate, one asset per media file, the clips on the spine."""
    res, formats, assets = [], {}, {}
    for e in items:
        if e.rate not in formats:
            formats[e.rate] = f"r{len(formats) + len(assets) + 1}"
            res.append(f'    <format id="{formats[e.rate]}" '
                       f'frameDuration="{_t(1, e.rate)}"/>')
    for e in items:
        if e.media not in assets:
            assets[e.media] = f"r{len(formats) + len(assets) + 1}"
            res.append(
                f'    <asset id="{assets[e.media]}" name={quoteattr(e.media.stem)} start="0s" '
                f'hasVideo="{int(e.has_video)}" hasAudio="1" format="{formats[e.rate]}" '
                f'audioSources="1">\n'
                f'      <media-rep kind="original-media" src={quoteattr(e.media.as_uri())}/>\n'
                f'    </asset>')
    seq_rate = items[0].rate
    spine, offset = [], 0
    for e in items:
        # the record side counts in the sequence's frames; a clip of another rate is placed at
        # its nearest sequence frame
        length = round(Fraction(e.frames) / e.rate * seq_rate)
        spine.append(
            f'            <asset-clip ref="{assets[e.media]}" name={quoteattr(e.name)} '
            f'offset="{_t(offset, seq_rate)}" start="{_t(e.first, e.rate)}" '
            f'duration="{_t(e.frames, e.rate)}" format="{formats[e.rate]}" '
            f'tcFormat="{"DF" if drop_frame(e.rate) else "NDF"}">\n'
            f'              <note>{escape(e.clip.text[:500])}</note>\n'
            f'            </asset-clip>')
        offset += length
    df = "DF" if drop_frame(seq_rate) else "NDF"
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!DOCTYPE fcpxml>",
        '<fcpxml version="1.10">',
        "  <resources>", *res, "  </resources>",
        "  <library>",
        f"    <event name={quoteattr(title)}>",
        f"      <project name={quoteattr(title)}>",
        f'        <sequence format="{formats[seq_rate]}" duration="{_t(offset, seq_rate)}" '
        f'tcStart="0s" tcFormat="{df}">',
        "          <spine>", *spine, "          </spine>",
        "        </sequence>", "      </project>", "    </event>", "  </library>",
        "</fcpxml>", ""])


def check_target(path: Path) -> None:
    """Refuse an extension clipcut cannot write, before any work is done."""
    if path.suffix.lower() not in FORMATS:
        raise ExportError(f"unknown timeline format {path.suffix or '(no extension)'!r}; use "
                          + ", ".join(FORMATS), path=path)


def _odd_rate(sources: dict[str, Source]) -> tuple[str, Source] | None:
    return next(((v, s) for v, s in sources.items() if not has_timecode(s)), None)


def output(path: Path, sources: dict[str, Source]) -> Path:
    """The file that ``write`` will write for ``path``: the .otio beside it when a recording's
    rate has no timecode form in the format asked for."""
    if path.suffix.lower() != ".otio" and _odd_rate(sources) is not None:
        return path.with_suffix(".otio")
    return path


def write(path: Path, items: list[Entry], title: str, sources: dict[str, Source]) -> Path:
    """Write the timeline in the format of ``path``'s extension; returns the file written.
    A recording whose rate has no timecode form gets the .otio beside ``path`` instead, and
    an error that says so."""
    import opentimelineio as otio

    ext = path.suffix.lower()
    check_target(path)
    target = output(path, sources)
    if target != path:
        files.write_text(target, otio.adapters.write_to_string(to_otio(items, title), "otio_json"))
        video, src = _odd_rate(sources)
        raise ExportError(f"{Path(video).name} has {src.describe_rate()}, which has no timecode "
                          f"form in {FORMATS[ext]}; wrote {target} instead (OpenTimelineIO "
                          "keeps any rate)", path=path)
    if ext == ".otio":
        text = otio.adapters.write_to_string(to_otio(items, title), "otio_json")
    elif ext == ".edl":
        text = _edl(items, title)
    elif ext == ".xml":
        text = otio.adapters.write_to_string(to_otio(items, title), "fcp_xml")
    else:
        text = _fcpxml(items, title)
    files.write_text(path, text)
    return path
