"""The highlight reel: the clips' spans joined into one MP4 with a chapter per clip.

Every piece is cut straight from its recording (clip files need not exist) and re-encoded in
one ffmpeg call, so the reel is frame-accurate: each piece lasts a whole number of frames of
the reel's rate, its audio is padded or trimmed to exactly that length (nothing drifts over
many joins), and each chapter starts on the frame where its piece starts. The picture takes
the first clip's size and rate; other sizes are scaled and letterboxed to it, and a clip
from a recording without video shows black. When no clip has video, the reel is audio only.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from ..config import CutOptions
from ..cut import TAG
from ..errors import ExportError
from ..types import Clip, clock
from . import files
from .probe import Source, probe, without_video

EXTENSIONS = (".mp4", ".m4a")  # .m4a only for a reel without video
ORDERS = ("rank", "time")
AUDIO_RATE = 48000             # Hz of the reel's audio; an audio-only reel counts in samples
FADE = 0.05                    # audio fade in and out at each join (s), against clicks
MARGIN = 1.0                   # s read past a clip's end: the filters, not the demuxer, cut it
TITLE_CHARS = 60               # longest chapter title


@dataclass(frozen=True)
class Chapter:
    """One clip in the reel: its title and where it lies, in seconds of the reel."""

    title: str
    start: float
    end: float


def check_target(path: Path) -> None:
    """Refuse an extension the reel cannot be written as, before any work is done."""
    if path.suffix.lower() not in EXTENSIONS:
        raise ExportError(f"a reel is written as {' or '.join(EXTENSIONS)} (.m4a when the "
                          f"clips have no video), not {path.suffix or '(no extension)'!r}",
                          path=path)


def ordered(clips: list[Clip], order: str) -> list[Clip]:
    """The clips in reel order: ``rank`` keeps the list's order, ``time`` sorts by recording
    and start, and a clip starting inside the one before it (two answers may share the
    question they follow) starts where that one ends, so nothing plays twice."""
    if order == "rank":
        return list(clips)
    if order != "time":
        raise ExportError(f"unknown reel order {order!r}; use {' or '.join(ORDERS)}")
    out: list[Clip] = []
    for c in sorted(clips, key=lambda c: (str(Path(c.video).resolve()), c.start)):
        prev = out[-1] if out else None
        if prev is not None and Path(prev.video).resolve() == Path(c.video).resolve() \
                and c.start < prev.end < c.end:
            c = replace(c, start=prev.end)
        out.append(c)
    return out


def title(clip: Clip, with_recording: bool = False) -> str:
    """A chapter title: "#2 1:05.0-1:32.4 first words of the clip...", the recording's name
    after the rank when the reel joins several recordings."""
    head = f"#{clip.rank} " + (f"{Path(clip.video).stem} " if with_recording else "") \
        + f"{clock(clip.start)}-{clock(clip.end)}"
    words = " ".join(clip.text.split())
    room = TITLE_CHARS - len(head) - 1
    if len(words) > room:
        words = words[:max(room - 3, 0)].rsplit(" ", 1)[0] + "..."
    return f"{head} {words}".strip()


def _escape_meta(value: str) -> str:
    """A value for an ffmetadata file, where '=', ';', '#', '\\' and newlines are special."""
    return "".join("\\" + ch if ch in "=;#\\\n" else ch for ch in value)


def _metadata(titles: list[str], bounds: list[int], grid: Fraction) -> str:
    """An ffmetadata file of the chapters, counted in the reel's frames (exact at any rate)."""
    out = [";FFMETADATA1"]
    for t, a, b in zip(titles, bounds, bounds[1:]):
        out += ["[CHAPTER]", f"TIMEBASE={grid.denominator}/{grid.numerator}",
                f"START={a}", f"END={b}", f"title={_escape_meta(t)}"]
    return "\n".join(out) + "\n"


def _video_chain(i: int, source: Source, frames: int, size: tuple[int, int],
                 rate: Fraction) -> str:
    w, h = size
    if source.rate is None:
        return f"color=c=black:s={w}x{h}:r={rate},format=yuv420p,trim=end_frame={frames}[v{i}]"
    # the frame grid starts at the clip's start, where the sound does (not at the first
    # frame after it, up to a frame late); the last frame is held if the recording ends first
    return (f"[{i}:v:0]fps={rate}:start_time=0,"
            f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
            f"tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},setpts=PTS-STARTPTS[v{i}]")


def _audio_chain(i: int, source: Source, samples: int, layout: str) -> str:
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts={layout}"
    if not source.channels:
        return f"anullsrc=r={AUDIO_RATE}:cl={layout},{fmt},atrim=end_sample={samples}[a{i}]"
    # a mono voice goes to both sides at full level (the automatic upmix lowers it by 3 dB)
    upmix = "pan=stereo|c0=c0|c1=c0," if source.channels == 1 and layout == "stereo" else ""
    length = samples / AUDIO_RATE
    fade = min(FADE, length / 2)
    return (f"[{i}:a:0]asetpts=PTS-STARTPTS,aresample={AUDIO_RATE},{upmix}{fmt},"
            f"apad,atrim=end_sample={samples},asetpts=PTS-STARTPTS,"
            f"afade=t=in:d={fade:.4f},afade=t=out:st={length - fade:.6f}:d={fade:.4f}[a{i}]")


def write(path: Path, clips: list[Clip], has_video: dict[str, bool], order: str,
          opt: CutOptions) -> list[Chapter]:
    """Join the clips' spans of their recordings into the reel ``path`` (written atomically
    and remembered as clipcut's; the caller checks first that it may be overwritten) in
    ``order`` ("rank" or "time"), encoded with ``opt``'s preset and crf. Returns the
    chapters, one per clip, in seconds of the reel."""
    check_target(path)
    if not clips:
        raise ExportError("no clips to join into a reel", path=path)
    clips = ordered(clips, order)
    sources = {v: probe(v) for v in dict.fromkeys(c.video for c in clips)}
    sources = {v: s if has_video.get(v, True) else without_video(s) for v, s in sources.items()}
    first = next((sources[c.video] for c in clips if sources[c.video].rate is not None), None)
    if first is not None and path.suffix.lower() == ".m4a":
        raise ExportError("the clips have video; name the reel .mp4", path=path)

    # every piece is a whole number of frames (samples without video); chapters and audio
    # lengths come from the running total, so rounding never adds up
    grid = first.rate if first is not None else Fraction(AUDIO_RATE)
    frames = [max(1, round(Fraction(c.end - c.start) * grid)) for c in clips]
    bounds = [0]
    for n in frames:
        bounds.append(bounds[-1] + n)
    sample_at = [round(b * AUDIO_RATE / grid) for b in bounds]
    size = (first.width - first.width % 2, first.height - first.height % 2) if first else None
    layout = "mono" if all(s.channels <= 1 for s in sources.values()) else "stereo"

    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    chains, joined = [], ""
    for i, c in enumerate(clips):
        # seeking before -i: fast, and each piece's clock starts at 0 at the clip's start
        args += ["-ss", f"{c.start:.3f}", "-t", f"{c.end - c.start + MARGIN:.3f}",
                 "-i", str(Path(c.video).resolve())]
        if size is not None:
            chains.append(_video_chain(i, sources[c.video], frames[i], size, grid))
            joined += f"[v{i}]"
        chains.append(_audio_chain(i, sources[c.video], sample_at[i + 1] - sample_at[i],
                                   layout))
        joined += f"[a{i}]"
    video = int(size is not None)
    chains.append(f"{joined}concat=n={len(clips)}:v={video}:a=1" + ("[v]" if video else "")
                  + "[a]")
    several = len(sources) > 1
    titles = [title(c, several) for c in clips]

    with tempfile.TemporaryDirectory(prefix="clipcut-reel-") as tmp_dir:
        meta = Path(tmp_dir) / "chapters.txt"
        meta.write_text(_metadata(titles, bounds, grid), encoding="utf-8")
        args += ["-f", "ffmetadata", "-i", str(meta), "-filter_complex", ";".join(chains)]
        if video:
            args += ["-map", "[v]", "-c:v", "libx264", "-preset", opt.preset,
                     "-crf", str(opt.crf), "-pix_fmt", "yuv420p"]
        args += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k",
                 "-map_metadata", str(len(clips)), "-map_chapters", str(len(clips)),
                 "-metadata", f"comment={TAG}", "-movflags", "+faststart", "-f", "mp4"]
        with files.atomic(path) as tmp:
            try:
                proc = subprocess.run(args + [str(tmp.resolve())], capture_output=True,
                                      text=True, check=False)
            except FileNotFoundError:
                raise ExportError("ffmpeg is not installed; `apt-get install ffmpeg`") from None
            if proc.returncode != 0 or tmp.stat().st_size == 0:
                # ffmpeg's last line is often only "Conversion failed!"; the cause is above it
                lines = [ln for ln in proc.stderr.strip().splitlines()
                         if ln.strip() != "Conversion failed!"]
                raise ExportError(f"ffmpeg could not write the reel: "
                                  f"{lines[-1] if lines else 'no output'}", path=path)
    return [Chapter(t, float(a / grid), float(b / grid))
            for t, a, b in zip(titles, bounds, bounds[1:])]
