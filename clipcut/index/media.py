"""Probe and decode: audio to 16 kHz mono float32 and frames at a fixed rate, in memory.

The only index stage that touches media files; ffmpeg is called with an argument list and
absolute paths, so a name starting with '-' is never read as an option.
"""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = {".mp3", ".wav", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts",
                    ".wmv", ".flv", ".3gp"}
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float          # s
    has_video: bool
    has_audio: bool
    subtitle_streams: int
    fps: float               # video frames per second (0 without video)
    width: int
    height: int


def _open(path: Path):
    import av

    if not path.exists():
        raise MediaError("file not found; check the path", path=path)
    if path.is_dir():
        raise MediaError("is a folder, not a media file", path=path)
    if path.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes); re-export or re-download it", path=path)
    try:
        return av.open(str(path.resolve()), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"not a media file ffmpeg can read ({exc.__class__.__name__}); "
                         "check that it is a complete audio or video file", path=path) from None


def probe(path: Path) -> MediaInfo:
    """Duration and streams of a media file; raises MediaError for unusable input."""
    import av

    with _open(path) as container:
        video = next((s for s in container.streams.video), None)
        audio = next((s for s in container.streams.audio), None)
        subs = len(container.streams.subtitles)
        duration = 0.0
        if container.duration:
            duration = container.duration / 1_000_000
        else:
            for s in (video, audio):
                if s is not None and s.duration and s.time_base:
                    duration = max(duration, float(s.duration * s.time_base))
        # A still cover image in an audio file is not a video to sample.
        is_cover = video is not None and bool(video.disposition & av.stream.Disposition.attached_pic)
        has_video = video is not None and not is_cover
        fps = float(video.average_rate or video.guessed_rate or 0) if has_video else 0.0
        info = MediaInfo(str(path), duration, has_video, audio is not None, subs, fps,
                         video.codec_context.width if has_video else 0,
                         video.codec_context.height if has_video else 0)
    if not info.has_video and not info.has_audio:
        raise MediaError("has neither an audio nor a video stream", path=path)
    if info.duration <= 0:
        raise MediaError("has no measurable duration; the file may be truncated", path=path)
    return info


def _ffmpeg(args: list[str], path: Path, what: str) -> bytes:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False)
    except FileNotFoundError:
        raise MediaError("ffmpeg is not installed; `apt-get install ffmpeg`") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MediaError(f"ffmpeg could not {what}: {detail[-1] if detail else 'unknown error'}",
                         path=path)
    return proc.stdout


def load_audio(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream as mono float32 in [-1, 1] at ``sample_rate`` Hz."""
    raw = _ffmpeg(["-i", str(path.resolve()), "-map", "0:a:0", "-vn", "-sn", "-dn",
                   "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"], path, "decode audio")
    return np.frombuffer(raw, dtype=np.float32).copy()


def extract_subtitles(path: Path) -> str:
    """The first embedded subtitle stream as WebVTT text."""
    raw = _ffmpeg(["-i", str(path.resolve()), "-map", "0:s:0", "-f", "webvtt", "-"],
                  path, "read the embedded subtitles")
    return raw.decode("utf-8", errors="replace")


def iter_frames(path: Path, rate: float, size: int) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time, RGB uint8 array size x size) at ``rate`` Hz: the first frame at or after
    each sample time, resized so the short side is ``size`` and centre-cropped."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / rate
        next_t = 0.0
        try:
            for frame in container.decode(stream):
                if frame.time is None or frame.time + 1e-6 < next_t:
                    continue
                w, h = frame.width, frame.height
                scale = size / min(w, h)
                rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
                img = frame.to_ndarray(format="rgb24", width=rw, height=rh)
                top, left = (rh - size) // 2, (rw - size) // 2
                yield float(frame.time), img[top:top + size, left:left + size]
                next_t = (int(frame.time / step + 1e-6) + 1) * step
        except av.error.FFmpegError as exc:
            # A damaged tail: keep what decoded, say so once.
            log.warning("%s: video decoding stopped early at %.1f s (%s)", path, next_t, exc)
