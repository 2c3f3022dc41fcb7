"""The only writer of media: clips cut with ffmpeg into temporary names, then renamed.

A file that clipcut did not write (it carries no clipcut tag) is never overwritten unless
``force`` is set; every cut's error is collected, not just the first.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from . import tempfiles
from .config import CutOptions
from .errors import CutError
from .types import Clip

log = logging.getLogger(__name__)

TAG = "written by clipcut"  # stored in the container's comment tag
CLIP_EXTENSIONS = (".mp4", ".m4a")  # with video, audio only


def _stamp(t: float) -> str:
    m, s = divmod(t, 60)
    h, m = divmod(int(m), 60)
    return (f"{h}h" if h else "") + f"{m:02d}m{s:04.1f}s"


def clip_name(clip: Clip, ext: str) -> str:
    stem = Path(clip.video).stem
    return f"{stem}_{clip.rank:02d}_{_stamp(clip.start)}-{_stamp(clip.end)}{ext}"


def written_by_clipcut(path: Path) -> bool:
    """True when ``path`` is a media file whose comment tag says clipcut wrote it."""
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags=comment",
                               "-of", "json", str(path.resolve())],
                              capture_output=True, text=True, check=False)
        tags = json.loads(proc.stdout or "{}").get("format", {}).get("tags", {})
    except (OSError, ValueError):
        return False
    return any(v == TAG for k, v in tags.items() if k.lower() == "comment")


def _filter_value(path: Path) -> str:
    """``path`` as a filter option value inside a filter graph: escaped once for the option
    parser (':' separates options) and once more for the graph parser (',;[]' separate
    filters); a quote or backslash is special to both."""
    value = "".join("\\" + ch if ch in "\\':" else ch for ch in str(path))
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in value)


def ffmpeg_args(src: Path, dst: Path, start: float, end: float, video: bool,
                opt: CutOptions, subtitles: Path | None = None) -> list[str]:
    """The ffmpeg argument list for one clip (absolute paths: a leading '-' is never an option).
    ``subtitles`` (an .srt timed from the clip's start) are rendered into the picture, which
    needs a re-encode even when ``opt`` asks for a stream copy (the audio too, so that it
    starts on the same sample as the picture); ignored without video."""
    burn = subtitles is not None and video
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-ss", f"{start:.3f}", "-i", str(src.resolve()), "-t", f"{end - start:.3f}"]
    args += ["-map", "0:v:0", "-map", "0:a:0?"] if video else ["-map", "0:a:0", "-vn"]
    if burn:
        # seeking before -i starts the filters' clock at the clip's start, as the cues are
        args += ["-vf", f"subtitles=filename={_filter_value(subtitles.resolve())}"]
    if opt.reencode or burn:
        if video:
            args += ["-c:v", "libx264", "-preset", opt.preset, "-crf", str(opt.crf),
                     "-pix_fmt", "yuv420p"]
        args += ["-c:a", "aac", "-b:a", "128k"]
    else:
        args += ["-c", "copy", "-avoid_negative_ts", "make_zero"]
    args += ["-sn", "-dn", "-map_metadata", "-1", "-metadata", f"comment={TAG}",
             "-movflags", "+faststart", "-f", "mp4", str(dst.resolve())]
    return args


def plan(clips: list[Clip], out_dir: Path, has_video: dict[str, bool], force: bool) -> list[Clip]:
    """Clips with their target file names; refuses to clobber files clipcut did not write."""
    planned, refused = [], []
    for clip in clips:
        ext = CLIP_EXTENSIONS[not has_video.get(clip.video, True)]
        target = out_dir / clip_name(clip, ext)
        if target.exists() and not force and not written_by_clipcut(target):
            refused.append(target)
        planned.append(replace(clip, file=str(target)))
    if refused:
        raise CutError(f"{refused[0]} exists and was not written by clipcut "
                       f"({len(refused)} such file(s)); use --force or another -o folder")
    return planned


def _subtitle_file(text: str, folder: Path, n: int) -> Path | None:
    """``text`` (SRT) written under a plain name in ``folder``, so that no character of a
    user's path reaches the filter graph; None when it holds no cue."""
    if not text.strip():
        return None
    path = folder / f"{n}.srt"
    path.write_text(text, encoding="utf-8")
    return path


def cut_clips(clips: list[Clip], out_dir: str | Path, has_video: dict[str, bool],
              opt: CutOptions, force: bool = False,
              subtitles: dict[str, str] | None = None) -> list[Clip]:
    """Cut every clip into ``out_dir``; returns the clips with ``file`` set. ``subtitles`` maps
    a clip's target file (as ``plan`` names it) to SRT text timed from the clip's start, which
    is rendered into that clip's picture."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CutError(f"cannot create output folder ({exc.strerror}); pick another -o",
                       path=out_dir) from None
    for ext in CLIP_EXTENSIONS:  # what killed runs left
        tempfiles.remove_orphans(out_dir, f".*{ext}.*.part", ".part")
    planned = plan(clips, out_dir, has_video, force)
    burn = {os.path.abspath(k): v for k, v in (subtitles or {}).items()}
    errors = []
    # a folder for the subtitle files only when some are burned in: a run killed mid-cut
    # leaves nothing behind in the temporary folder otherwise
    holder = tempfile.TemporaryDirectory(prefix="clipcut-subs-") if burn else nullcontext("")
    with holder as subs_dir:
        for n, clip in enumerate(planned):
            target = Path(clip.file)
            srt = burn.get(os.path.abspath(target))
            subs = _subtitle_file(srt, Path(subs_dir), n) if srt is not None else None
            try:
                fd, tmp = tempfiles.create(target, ".part")
            except OSError as exc:
                raise CutError(f"cannot write in output folder ({exc.strerror}); pick another -o",
                               path=out_dir) from None
            os.close(fd)
            args = ffmpeg_args(Path(clip.video), Path(tmp), clip.start, clip.end,
                               has_video.get(clip.video, True), opt, subs)
            try:
                proc = subprocess.run(args, capture_output=True, text=True, check=False)
                if proc.returncode == 0 and os.path.getsize(tmp) > 0:
                    os.replace(tmp, target)
                    continue
            except FileNotFoundError:
                raise CutError("ffmpeg is not installed; `apt-get install ffmpeg`") from None
            finally:
                Path(tmp).unlink(missing_ok=True)  # gone already when it was renamed
            lines = proc.stderr.strip().splitlines()
            errors.append(f"{target.name}: {lines[-1] if lines else 'ffmpeg failed'}")
    if errors:
        raise CutError(f"{len(errors)} of {len(planned)} clips failed: {errors[0]}")
    return planned
