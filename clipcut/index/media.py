"""Probe and decode: audio to 16 kHz mono float32 and frames at a fixed rate, in memory.

The only index stage that touches media files; ffmpeg is called with an argument list and
absolute paths, so a name starting with '-' is never read as an option.
"""
from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = {".mp3", ".wav", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts",
                    ".wmv", ".flv", ".3gp"}
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
NO_FFMPEG = "ffmpeg is not installed; `apt-get install ffmpeg`"
MIN_DELAY = 0.05  # sound starting this much or more after the file is put on its clock (s)
# Recorded in the cache of a file whose sound starts late (MIN_DELAY or more): caches made
# before such sound was put on the file's clock lack it, so they are rebuilt, not trusted.
CLOCK = "file"


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
    created: float = 0.0      # the creation_time tag (Unix seconds), 0 when there is none
    audio_delay: float = 0.0  # s the sound starts after the file (``audio_delay``)


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


def _creation_time(container) -> float:
    """The container's (else the first stream's) creation_time tag in Unix seconds, or 0."""
    tags = [container.metadata] + [s.metadata for s in container.streams]
    for tag in (t.get("creation_time") for t in tags):
        if tag:
            try:
                when = datetime.fromisoformat(tag.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return when.timestamp()
    return 0.0


def _origin(container) -> float:
    """Where the file's clock starts (s): ffmpeg cuts, and players count, from the earliest
    stream's start time (an MPEG-TS recording's streams start at 1.4 s, say), while decoded
    frames carry their stream's own times."""
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def audio_delay(path: Path) -> float:
    """How long after the file's start its first audio stream begins (s): a recorder or an
    editor that starts the sound later than the picture writes that on the stream, and
    ffmpeg decodes the sound from its own first sample. 0 without audio."""
    with _open(path) as container:
        return _audio_delay(container)


def _audio_delay(container) -> float:
    audio = next((s for s in container.streams.audio), None)
    if audio is None or audio.start_time is None or not audio.time_base:
        return 0.0
    return max(0.0, float(audio.start_time * audio.time_base) - _origin(container))


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
                         video.codec_context.height if has_video else 0,
                         _creation_time(container), _audio_delay(container))
    if not info.has_video and not info.has_audio:
        raise MediaError("has neither an audio nor a video stream", path=path)
    if info.duration <= 0:
        raise MediaError("has no measurable duration; the file may be truncated", path=path)
    return info


def _ffmpeg_cmd(args: list[str]) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *args]


def _ffmpeg_failed(stderr: bytes, path: Path, what: str) -> MediaError:
    detail = stderr.decode(errors="replace").strip().splitlines()
    return MediaError(f"ffmpeg could not {what}: {detail[-1] if detail else 'unknown error'}",
                      path=path)


def _ffmpeg(args: list[str], path: Path, what: str) -> bytes:
    try:
        proc = subprocess.run(_ffmpeg_cmd(args), capture_output=True, check=False)
    except FileNotFoundError:
        raise MediaError(NO_FFMPEG) from None
    if proc.returncode != 0:
        raise _ffmpeg_failed(proc.stderr, path, what)
    return proc.stdout


def load_audio(path: Path, sample_rate: int = 16000, duration: float = 0.0) -> np.ndarray:
    """The first audio stream as mono float32 in [-1, 1] at ``sample_rate`` Hz, on the file's
    clock: sound that starts after the file does (``audio_delay``; under AAC's 0.05 s of
    priming it is left alone) is preceded by that much silence, so that a time in it is a
    time in the video. The samples are read straight into one array sized from ``duration``
    (grown if the stream is longer), so a long recording is held once, never twice."""
    cmd = _ffmpeg_cmd(["-i", str(path.resolve()), "-map", "0:a:0", "-vn", "-sn", "-dn",
                       "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"])
    delay = audio_delay(path)
    lead = int(round(delay * sample_rate)) if delay >= MIN_DELAY else 0
    out = np.empty(max(int(duration * sample_rate), lead) + sample_rate, dtype=np.float32)
    out[:lead] = 0.0
    filled = lead * out.itemsize  # bytes
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        except FileNotFoundError:
            raise MediaError(NO_FFMPEG) from None
        try:
            while True:
                if filled == out.nbytes:
                    out = np.resize(out, out.size * 2)
                n = proc.stdout.readinto(memoryview(out).cast("B")[filled:])
                if not n:
                    break
                filled += n
        except BaseException:  # Ctrl-C or out of memory: do not leave ffmpeg running
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            raise _ffmpeg_failed(err.read(), path, "decode audio")
    return out[:filled // out.itemsize]


def extract_subtitles(path: Path) -> str:
    """The first embedded subtitle stream as WebVTT text."""
    raw = _ffmpeg(["-i", str(path.resolve()), "-map", "0:s:0", "-f", "webvtt", "-"],
                  path, "read the embedded subtitles")
    return raw.decode("utf-8", errors="replace")


def _crop(frame, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3): short side resized to ``size``, centre-cropped."""
    w, h = frame.width, frame.height
    scale = size / min(w, h)
    rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
    img = frame.to_ndarray(format="rgb24", width=rw, height=rh)
    top, left = (rh - size) // 2, (rw - size) // 2
    return img[top:top + size, left:left + size]


def thumbnail(rgb: np.ndarray, cells: int = 16) -> np.ndarray:
    """(cells, cells, 3) float32 block means of a square RGB frame: what near-duplicate and
    change tests compare."""
    n = rgb.shape[0] // cells
    return rgb[:cells * n, :cells * n].reshape(cells, n, cells, n, 3).mean((1, 3),
                                                                         dtype=np.float32)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (0-255 levels)."""
    return float(np.abs(a - b).mean())


def iter_frames(path: Path, rate: float, size: int) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time, RGB uint8 array size x size) at ``rate`` Hz, decoding every frame: the
    first frame at or after each sample time, resized so the short side is ``size`` and
    centre-cropped."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = _origin(container)
        step = 1.0 / rate
        next_t = 0.0
        try:
            for frame in container.decode(stream):
                if frame.time is None or frame.time - origin + 1e-6 < next_t:
                    continue
                t = float(frame.time) - origin
                yield t, _crop(frame, size)
                next_t = (int(t / step + 1e-6) + 1) * step
        except av.error.FFmpegError as exc:
            # A damaged tail: keep what decoded, say so once.
            log.warning("%s: video decoding stopped early at %.1f s (%s)", path, next_t, exc)


def sample_frames(path: Path, rate: float, size: int, change: float,
                  max_gap: float) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time, RGB uint8 size x size) in time order, decoding only what can differ.

    Keyframes (at most one per 1/``rate`` s) are decoded on their own. The frames between two
    keyframes are decoded, and sampled at ``rate`` Hz, only when the two keyframes differ by
    more than ``change`` levels (``thumbnail`` mean absolute difference) or lie more than
    ``max_gap`` s apart; otherwise nothing moved there that a sample could show. A stream
    whose packets carry no keyframe flags is decoded in full (``iter_frames``)."""
    import av

    step = 1.0 / rate
    yielded = False
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx, tb = stream.codec_context, stream.time_base
        origin = _origin(container)  # times on the file's clock

        def feed(packet) -> list:
            """Decoded frames (time, frame) for one packet; None drains and resets."""
            # B-frames are never sampled when an I or P frame lies within a few frames, and
            # nothing but other B-frames refers to them: skipping them halves decoding.
            ctx.skip_frame = "DEFAULT" if packet is not None and packet.is_keyframe else "BIDIR"
            try:
                frames = ctx.decode(packet)
            except av.error.FFmpegError as exc:
                log.info("%s: a damaged frame was skipped (%s)", path, exc)
                frames = []
            if packet is None:
                ctx.flush_buffers()
            return [(float(f.pts * tb) - origin, f) for f in frames if f.pts is not None]

        def group(packets: list, drain: bool = True) -> list:
            """Decoded frames of a keyframe and the packets after it (drained: then reset)."""
            return [f for p in [*packets, *([None] if drain else [])] for f in feed(p)]

        def grid(frames: list, t0: float, t1: float, g: list) -> Iterator:
            """The first frame at or after each sample time g[0] (advanced in place), before t1."""
            for t, frame in sorted(frames, key=lambda x: x[0]):
                if t + 1e-6 >= g[0] and t < t1 - 1e-6:
                    yield t, _crop(frame, size)
                    g[0] = t0 + (int((t - t0) / step + 1e-6) + 1) * step

        key = None         # (time, packet, thumbnail) of the last keyframe decoded
        run: list = []     # packets after it, held until the next keyframe decides
        live = False       # this group is longer than max_gap: its packets are decoded as read
        g = [0.0]          # next sample time inside the group
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * tb) - origin
                if key is None and not packet.is_keyframe:
                    if t > max_gap:
                        break  # no keyframe flags: decode in full below
                    continue
                if packet.is_keyframe and (key is None or t >= key[0] + step - 1e-6):
                    if live:
                        yield from grid(feed(None), key[0], t, g)
                    decoded = group([packet])
                    if not decoded:
                        continue
                    rgb = _crop(decoded[0][1], size)
                    thumb = thumbnail(rgb)
                    if key is not None and not live and difference(thumb, key[2]) > change:
                        yield from grid(group([key[1], *run]), key[0], t, g)
                    yield t, rgb
                    yielded = True
                    key, run, live, g = (t, packet, thumb), [], False, [t + step]
                elif key is not None:
                    if live:
                        yield from grid(feed(packet), key[0], np.inf, g)
                    else:
                        run.append(packet)
                        if t - key[0] > max_gap:
                            live = True
                            frames, run = group([key[1], *run], drain=False), []
                            yield from grid(frames, key[0], np.inf, g)
            if key is not None:
                # the tail after the last keyframe: nothing to compare with, so sample it
                yield from grid(group([] if live else [key[1], *run]), key[0], np.inf, g)
        except av.error.FFmpegError as exc:
            log.warning("%s: video decoding stopped early (%s)", path, exc)
    if not yielded:
        yield from iter_frames(path, rate, size)
