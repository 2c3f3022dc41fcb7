"""What the writers of timelines and reels need to know of a recording, read with ffprobe: its
length, its video's size and frame rate (a fraction: 30000/1001 stays exact) and its audio
channels."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import ExportError

MAX_RATE = 120            # a higher nominal rate is a timebase (VFR), not a frame rate
VFR_TOLERANCE = 0.002     # an average rate this far (relative) from the nominal one: VFR
DEFAULT_RATE = Fraction(25)  # a video stream whose rate ffprobe cannot tell


@dataclass(frozen=True)
class Source:
    duration: float
    rate: Fraction | None   # frames per second; None: no video stream
    variable: bool          # variable frame rate (screen captures, phones)
    width: int
    height: int
    channels: int           # of the first audio stream; 0: no audio

    def describe_rate(self) -> str:
        value = f"{float(self.rate or 0):.3f}".rstrip("0").rstrip(".")
        return f"variable frame rate (about {value} fps)" if self.variable else f"{value} fps"


def _fraction(text: str | None) -> Fraction:
    try:
        return Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return Fraction(0)


def probe(path: str | Path) -> Source:
    """The recording ``path`` as a Source; a one-line ExportError when it cannot be read."""
    try:
        proc = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries",
             "stream=codec_type,width,height,r_frame_rate,avg_frame_rate,channels"
             ":format=duration", "-of", "json", str(Path(path).resolve())],
            capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ExportError("ffmpeg is not installed; `apt-get install ffmpeg`") from None
    try:
        data = json.loads(proc.stdout or "{}")
    except ValueError:
        data = {}
    streams = data.get("streams") or []
    if proc.returncode != 0 or not streams:
        raise ExportError("cannot read this recording; is it still there?", path=path)
    duration = float(data.get("format", {}).get("duration") or 0.0)
    a = next((s for s in streams if s.get("codec_type") == "audio"), None)
    channels = int(a.get("channels") or 1) if a is not None else 0
    v = next((s for s in streams if s.get("codec_type") == "video"), None)
    if v is None:
        return Source(duration, None, False, 0, 0, channels)
    nominal, average = _fraction(v.get("r_frame_rate")), _fraction(v.get("avg_frame_rate"))
    rate = nominal if 0 < nominal <= MAX_RATE else average
    if not 0 < rate <= MAX_RATE:
        rate = DEFAULT_RATE
    variable = not 0 < nominal <= MAX_RATE or (
        average > 0 and abs(average - nominal) / nominal > VFR_TOLERANCE)
    return Source(duration, rate, variable, int(v.get("width") or 0),
                  int(v.get("height") or 0), channels)


def without_video(src: Source) -> Source:
    """The same recording with its video ignored (the index found no usable video)."""
    return Source(src.duration, None, False, 0, 0, src.channels)
