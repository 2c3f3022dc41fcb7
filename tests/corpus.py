"""A corpus of bad and awkward inputs, generated (never downloaded), each with the outcome
clipcut must give. Used by tests/test_corpus.py; run alone it builds the corpus, runs every
case through the CLI and prints the README table:

    python -m tests.corpus /tmp/corpus
"""
from __future__ import annotations

import os
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clipcut.synth import SAMPLE_RATE, speak

from .conftest import read_only, write_cues

SENTENCE = "Our striker scored the winning goal in the football match after extra time."
QUERY = "the winning goal in the football match"
LONG = 4 * 3600   # s
# Memory that does not grow with length, beside the 16 kHz samples (0.9 GB for 4 hours):
# measured 2.3 GiB for the 4-hour file and 1.7 GiB for 10 minutes; holding the whole
# recording's spectrogram and running sums, as clipcut once did, took 5.0 GB.
LONG_MIB = 3584


@dataclass(frozen=True)
class Case:
    name: str             # what the input is
    args: tuple           # the CLI arguments after `clipcut`
    expect: str           # "ok" (exit 0), "no match" (exit 1), "found or not" (0 or 1),
                          # "error" (exit 2)
    needle: str = ""      # a piece of the one-line error (or of stderr for "ok")
    cwd: str = ""         # run from this folder (for names that start with '-')
    max_mib: int = 0      # the run's peak resident memory must stay below this (0: any)
    read_only: str = ""   # this folder is made read-only for the run; "{ro}" in args is it


@dataclass
class Result:
    returncode: int
    stderr: str
    peak_mib: float       # peak resident memory of the clipcut process


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _speech_wav(path: Path) -> float:
    pcm = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), speak(SENTENCE),
                          np.zeros(SAMPLE_RATE, np.float32)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes())
    return len(pcm) / SAMPLE_RATE


def _video(out: Path, speech: Path, *, rate: int = 25, size: str = "320x240",
           extra: tuple = (), audio: tuple = ("-c:a", "aac")) -> Path:
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}", "-i", str(speech), "-shortest",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *audio, *extra,
            str(out))
    return out


def build(root: Path) -> list[Case]:
    """Write every input under ``root`` (one folder per case) and return the cases."""
    root.mkdir(parents=True, exist_ok=True)
    speech = root / "speech.wav"
    duration = _speech_wav(speech)
    good = _video(root / "good.mp4", speech)
    cases: list[Case] = []

    def folder(name: str) -> Path:
        d = root / name
        d.mkdir(exist_ok=True)
        return d

    def query(path: Path) -> tuple:
        return ("query", str(path), QUERY, "--no-cut", "--json")

    d = folder("zero-byte")
    (d / "empty.mp4").touch()
    cases.append(Case("zero-byte file", query(d / "empty.mp4"), "error", "empty (0 bytes)"))

    d = folder("text-as-mp4")
    (d / "notes.mp4").write_text("meeting notes, not a video\n" * 40)
    cases.append(Case("text file named .mp4", query(d / "notes.mp4"), "error",
                      "not a media file"))

    d = folder("truncated")
    fast = _video(d / "whole.mp4", speech, extra=("-movflags", "+faststart"))
    data = fast.read_bytes()
    (d / "half.mp4").write_bytes(data[:len(data) // 2])
    fast.unlink()
    cases.append(Case("truncated MP4 (first half, index at the front)", query(d / "half.mp4"),
                      "found or not"))

    d = folder("no-moov")
    data = good.read_bytes()
    (d / "no-moov.mp4").write_bytes(data[:int(len(data) * 0.9)])  # the index is at the end
    cases.append(Case("MP4 with the moov atom missing", query(d / "no-moov.mp4"), "error",
                      "not a media file"))

    for ext, codec in (("mp3", ("-c:a", "libmp3lame")), ("wav", ("-c:a", "pcm_s16le")),
                       ("m4a", ("-c:a", "aac"))):
        d = folder(f"audio-{ext}")
        _ffmpeg("-i", str(speech), *codec, str(d / f"speech.{ext}"))
        cases.append(Case(f"audio only, .{ext}", query(d / f"speech.{ext}"), "ok"))

    d = folder("no-audio")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-c:v", "libx264", "-preset",
            "ultrafast", str(d / "silent.mp4"))
    cases.append(Case("video with no audio stream and no captions", query(d / "silent.mp4"),
                      "error", "no audio stream"))

    for rate in (1, 60):
        d = folder(f"fps-{rate}")
        _video(d / f"fps{rate}.mp4", speech, rate=rate)
        cases.append(Case(f"{rate} fps video", query(d / f"fps{rate}.mp4"), "ok"))

    d = folder("vfr")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i",
            f"testsrc2=s=320x240:r=7:d={duration:.2f}", "-i", str(speech), "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a", "-shortest",
            "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
            str(d / "vfr.mp4"))
    cases.append(Case("variable frame rate (25 then 7 fps)", query(d / "vfr.mp4"), "ok"))

    d = folder("rotated")
    _video(d / "phone.mp4", speech, size="240x320", extra=("-metadata:s:v:0", "rotate=90"))
    cases.append(Case("rotated phone video (portrait, rotate=90)", query(d / "phone.mp4"), "ok"))

    d = folder("surround")
    _video(d / "surround.mp4", speech, audio=("-c:a", "aac", "-ac", "6", "-ar", "48000"))
    cases.append(Case("5.1 audio at 48 kHz", query(d / "surround.mp4"), "ok"))

    d = folder("8khz")
    _ffmpeg("-i", str(speech), "-ar", "8000", "-ac", "1", str(d / "phone-call.wav"))
    cases.append(Case("8 kHz mono call recording", query(d / "phone-call.wav"), "found or not"))

    for name, label in (("talk with spaces.mp4", "name with spaces"),
                        ("réunion été 会议.mp4", "unicode name")):
        d = folder(label.replace(" ", "-"))
        (d / name).write_bytes(good.read_bytes())
        cases.append(Case(label, query(d / name), "ok"))

    d = folder("dash")
    (d / "-talk.mp4").write_bytes(good.read_bytes())
    cases.append(Case("name starting with '-' (after --)",
                      ("query", "--no-cut", "--json", "--", "-talk.mp4", QUERY), "ok",
                      cwd=str(d)))

    d = folder("read-only")
    (d / "talk.mp4").write_bytes(good.read_bytes())
    cases.append(Case("read-only folder (cache goes to the user cache dir)",
                      query("{ro}/talk.mp4"), "ok", read_only=str(d)))

    d = folder("mixed")
    (d / "good.mp4").write_bytes(good.read_bytes())
    (d / "broken.mp4").write_bytes(b"\x00" * 2048)
    (d / "empty.mov").touch()
    cases.append(Case("folder mixing good and bad files", ("index", str(d)), "error",
                      "1 indexed, 0 up to date, 2 failed"))

    d = folder("bad-captions")
    (d / "talk.mp4").write_bytes(good.read_bytes())
    (d / "talk.vtt").write_text("WEBVTT\n\nthis is not a cue\nnor is this\n")
    cases.append(Case("malformed caption file", query(d / "talk.mp4"), "error",
                      "caption file has no timed cues"))

    d = folder("empty-captions")
    (d / "talk.mp4").write_bytes(good.read_bytes())
    (d / "talk.srt").touch()
    cases.append(Case("empty caption file", query(d / "talk.mp4"), "error",
                      "caption file has no timed cues"))

    d = folder("long-captions")
    (d / "talk.mp4").write_bytes(good.read_bytes())
    write_cues(d / "talk.vtt", [(0.5, duration - 1.0, SENTENCE),
                          (duration + 5, duration + 60, "Cues after the end are dropped.")])
    cases.append(Case("caption times past the end of the video", query(d / "talk.mp4"), "ok"))

    d = folder("four-hours")
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=160x120:r=1", "-f", "lavfi", "-i",
            "anullsrc=r=16000:cl=mono", "-t", str(LONG), "-c:v", "libx264", "-preset",
            "ultrafast", "-g", "300", "-c:a", "aac", "-b:a", "16k", str(d / "silent-4h.mp4"))
    cases.append(Case("4-hour silent video", query(d / "silent-4h.mp4"), "no match",
                      max_mib=LONG_MIB))

    cases.append(Case("empty query", ("query", str(good), "   "), "error", "query is empty"))
    cases.append(Case("10,000-character query",
                      ("query", str(good), ("goal football " * 800)[:10000], "--no-cut"),
                      "found or not", "only the first"))
    cases.append(Case("query of only stop words",
                      ("query", str(good), "the of and to it is", "--no-cut"), "found or not"))
    return cases


def run(case: Case) -> Result:
    if case.read_only:
        with read_only(Path(case.read_only)) as ro:
            if ro is None:
                return Result(0, "skipped: root may not mount a read-only folder here", 0.0)
            return _run([a.replace("{ro}", str(ro)) for a in case.args], case.cwd)
    return _run(case.args, case.cwd)


def _run(args, cwd: str) -> Result:
    with subprocess.Popen([sys.executable, "-m", "clipcut", *args], cwd=cwd or None,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as proc:
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Result(proc.returncode, stderr, usage.ru_maxrss / 1024)


def check(case: Case, proc: Result) -> str:
    """'' when the outcome is the expected one, else what is wrong."""
    err = proc.stderr.strip()
    if "Traceback" in err:
        return "traceback"
    want = {"ok": {0}, "no match": {1}, "found or not": {0, 1}, "error": {2}}[case.expect]
    if proc.returncode not in want:
        return f"exit {proc.returncode}: {err[-300:]}"
    if case.max_mib and proc.peak_mib > case.max_mib:
        return f"peak memory {proc.peak_mib:.0f} MiB, over {case.max_mib} MiB"
    if case.expect == "error" and case.args[0] == "query" and err.count("\n") != 0:
        return f"more than one line: {err}"
    if case.needle and case.needle not in err:
        return f"stderr lacks {case.needle!r}: {err[-300:]}"
    return ""


def outcome(case: Case, proc: Result) -> str:
    """What a user sees, in a few words: the error line, the summary, or the result."""
    if proc.stderr.startswith("skipped"):
        return proc.stderr
    folder = str(Path(case.args[1]).parent) + "/"
    lines = [ln for ln in proc.stderr.strip().splitlines()
             if ln.startswith("clipcut: error:") or " indexed, " in ln]
    if lines:
        return lines[-1].split(folder)[-1]
    notes = [ln.split("WARNING: ")[-1].replace(folder, "") for ln in proc.stderr.splitlines()
             if "WARNING" in ln and "visual modality off" not in ln]
    result = {0: "clips found", 1: "no match"}.get(proc.returncode, "?")
    if case.max_mib:
        result += f", peak memory {proc.peak_mib / 1024:.1f} GiB"
    return result + (f" (warning: {notes[0]})" if notes else "")


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    print("| input | outcome | exit |\n|---|---|---:|")
    bad = 0
    for case in build(root):
        proc = run(case)
        problem = check(case, proc)
        bad += bool(problem)
        said = outcome(case, proc).replace("|", "/")
        print(f"| {case.name} | {said}{' (UNEXPECTED: ' + problem + ')' if problem else ''} "
              f"| {proc.returncode} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
