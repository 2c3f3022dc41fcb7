"""Transcript: words with times, from captions (VTT/SRT) or from ASR.

Caption cues are turned into words with times spread over each cue by character position,
so captions and ASR feed the same sentence splitter.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ..errors import MediaError
from ..types import Word
from . import vad
from .sentences import ends_sentence

log = logging.getLogger(__name__)

CAPTION_EXTENSIONS = (".vtt", ".srt")
_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})")
_TAG = re.compile(r"<[^>]*>|\{[^}]*\}")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+?)\s*>")             # WebVTT <v Name>
# What captions say of sounds, not speech ("[Music]", "(APPLAUSE)", "(laughs)", "♪ lyrics ♪"):
# not text to search, nor a speaker's turn. Square brackets are always such notes in
# captions; parentheses only when shouting or naming a sound (a spoken aside stays).
_BRACKETED = re.compile(r"\[[^\[\]]{0,60}\]")
_SOUNDS = re.compile(r"(?i:\b(music|applause|laugh\w*|cheer\w*|clap\w*|inaudible|crosstalk|"
                     r"silence|noise|cough\w*|sigh\w*|chuckl\w*|gasp\w*|groan\w*|static|"
                     r"beep\w*|indistinct|unintelligible|foreign|sound\w*|whisper\w*)\b)"
                     r"|\bspeaking (?:in )?[A-Z][a-z]+\b")  # "(speaking Spanish)", not "(speaking of it)"
_PAREN = re.compile(r"\(([^()]{1,40})\)")
_LYRICS = re.compile(r"[♪♫][^♪♫]{0,200}[♪♫]|[♪♫]")
_NAMED = re.compile(r"^([A-Z][\w.'\-]*(?: [A-Z0-9][\w.'\-]*){0,3}):\s+(?=\S)")  # Name: text


class Cue(NamedTuple):
    start: float
    end: float
    text: str
    speaker: str = ""   # from a <v Name> tag or a leading "Name:"; "" when the cue names none

Progress = Callable[[float], None]  # called with seconds of media done

# Audio is transcribed ten minutes at a time, cut inside a pause: Whisper's feature
# extraction holds its whole input (about 1.3 GB per 30 minutes), so this bounds memory.
PIECE = 600.0     # s
PIECE_SLACK = 60.0  # the cut may move this far to reach a pause (s)


def _seconds(match: re.Match) -> float:
    h, m, s, frac = match.groups()
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def parse_captions(text: str, source: object = "captions") -> list[Cue]:
    """The cues of a WebVTT or SRT document, in time order, with the speaker each one names
    (a WebVTT voice tag ``<v Name>``, or a line starting ``Name:``).

    Raises MediaError when the document holds no timed cue at all."""
    cues, timed = [], 0
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln for ln in block.strip("\n").split("\n")]
        for i, line in enumerate(lines):
            if "-->" not in line:
                continue
            left, right = line.split("-->", 1)
            a, b = _TIME.search(left), _TIME.search(right)
            if not (a and b):
                break
            body = " ".join(lines[i + 1:])
            voice = _VOICE.search(body)
            body = _TAG.sub("", body).replace("&nbsp;", " ").replace("&amp;", "&")
            body = re.sub(r"^\s*(-|>>)\s*", "", without_sound_notes(body))
            body = " ".join(body.split())
            speaker = voice.group(1).strip() if voice else ""
            named = _NAMED.match(body)
            if named and not speaker:
                speaker, body = named.group(1), body[named.end():]
            start, end = _seconds(a), _seconds(b)
            timed += 1  # a cue of sound notes only ("[Music]") is timed but has no text
            if body and end > start:
                cues.append(Cue(start, end, body, speaker))
            break
    if not cues and not timed:
        raise MediaError("caption file has no timed cues; fix it or remove it to use ASR",
                         path=source)
    cues.sort(key=lambda c: (c[0], c[1]))
    return cues


def without_sound_notes(text: str) -> str:
    """``text`` without what captions say of sounds: "[Music]", "[speaking Spanish]",
    "(APPLAUSE)", "(audience laughs)", "♪ la la ♪" (a parenthesis that names no sound and
    does not shout, "(the second one)", stays)."""
    out = _PAREN.sub(lambda m: " " if m.group(1).isupper() or _SOUNDS.search(m.group(1))
                     else m.group(0), _LYRICS.sub(" ", _BRACKETED.sub(" ", text)))
    # "approved (laughs)." reads "approved."
    return re.sub(r"\s+([.,!?;:])", r"\1", out) if out != text else text


# Recorded in the cache of a recording whose caption file says what it hears ("[Music]",
# "(APPLAUSE)"): caches made before such notes were left out of the text hold them as words
# and are rebuilt.
NOTES = "left-out"


def has_sound_notes(path: Path) -> bool:
    """Whether the caption file at ``path`` holds notes of sounds (``without_sound_notes``)."""
    text = read_caption_file(path)
    return without_sound_notes(text) != text


def words_from_cues(cues: list, duration: float | None = None) -> list[Word]:
    """Words of each cue ((start, end, text, ...)), timed by character position in the cue."""
    words: list[Word] = []
    for start, end, text, *_ in cues:
        if duration is not None:
            if start >= duration:
                continue
            end = min(end, duration)
        tokens = text.split()
        total = sum(len(t) + 1 for t in tokens)
        pos = 0
        for tok in tokens:
            w_start = start + (end - start) * pos / total
            pos += len(tok) + 1
            words.append(Word(round(w_start, 3), round(start + (end - start) * pos / total, 3), tok))
    return words


def find_captions(video: Path) -> Path | None:
    """A .vtt or .srt beside the video with the same stem."""
    for ext in CAPTION_EXTENSIONS:
        for cand in (video.with_suffix(ext), video.with_name(video.name + ext)):
            if cand.is_file():
                return cand
    return None


def read_caption_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise MediaError(f"cannot read caption file ({exc.strerror})", path=path) from None


def pieces(duration: float, silences: np.ndarray, every: float = PIECE,
           slack: float = PIECE_SLACK) -> list[tuple[float, float]]:
    """Consecutive (start, end) spans of about ``every`` s covering [0, duration]; each cut
    lies in the middle of the longest silence within ``slack`` s of its nominal place (at
    the nominal place when there is none)."""
    cuts = [0.0]
    while duration - cuts[-1] > every + slack:
        target = cuts[-1] + every
        near = silences[(silences[:, 0] < target + slack) & (silences[:, 1] > target - slack)] \
            if len(silences) else silences
        cut = target
        if len(near):
            a, b = near[np.argmax(near[:, 1] - near[:, 0])]
            cut = min(max((a + b) / 2, target - slack), target + slack)
        cuts.append(float(cut))
    cuts.append(float(duration))
    return list(zip(cuts[:-1], cuts[1:]))


def in_pieces(transcribe: Callable[..., list[Word]], audio: np.ndarray, sample_rate: int,
              spans: list[tuple[float, float]], progress: Progress | None = None) -> list[Word]:
    """Words of ``transcribe(piece, progress=...)`` over each span, on the whole audio's clock."""
    words: list[Word] = []
    for a, b in spans:
        piece = audio[int(round(a * sample_rate)):int(round(b * sample_rate))]
        step = (lambda t, a=a: progress(a + t)) if progress else None
        words += [Word(round(w.start + a, 3), round(w.end + a, 3), w.text)
                  for w in transcribe(piece, progress=step)]
    return words


def transcribe_faster_whisper(model, audio: np.ndarray, *, language: str, beam_size: int,
                              vad: bool, batch_size: int = 0, chunk_length: int = 30,
                              progress: Progress | None = None) -> list[Word]:
    """Words with times from faster-whisper (int8 on the CPU). ``batch_size`` > 1 decodes
    that many speech chunks (cut at pauses by the VAD) in one model call; with timestamp
    tokens on, so that Whisper does not stop before the end of a 30 s chunk and drop the rest
    (without them a fifth of the speech was lost on some meetings)."""
    import ctranslate2

    # Whisper falls back to sampling at a higher temperature on a chunk it cannot decode
    # greedily; a fixed seed keeps the transcript (and every clip) the same run after run
    ctranslate2.set_random_seed(0)
    if batch_size > 1:
        from faster_whisper import BatchedInferencePipeline

        model = BatchedInferencePipeline(model)
        extra = {"batch_size": batch_size, "without_timestamps": False,
                 "chunk_length": chunk_length}
    else:
        extra = {}
    segments, _ = model.transcribe(audio, language=language or None, beam_size=beam_size,
                                   vad_filter=vad, word_timestamps=True,
                                   condition_on_previous_text=False, **extra)
    words: list[Word] = []
    for seg in segments:
        for w in seg.words or []:
            if w.word.strip():
                words.append(Word(round(float(w.start), 3), round(float(w.end), 3), w.word.strip()))
        if progress:
            progress(float(seg.end))
    # its VAD joins the speech it finds into chunks, and can misplace a word at a join
    return place_strays(words, audio, WHISPER_RATE) if vad else words


WHISPER_RATE = 16000  # Whisper takes its audio at this rate (Hz)
STRAY_GAP = 2.0     # a word this far before the next, which it runs on to, is checked (s)
STRAY_SPEECH = 0.3  # it is stray when voice activity covers less than this share of it
STRAY_LONGEST = 0.6  # a stray word moved next to the next one is given at most this long (s)


def place_strays(words: list[Word], pcm: np.ndarray, sample_rate: int) -> list[Word]:
    """Words Whisper timed into sound that is not speech, moved to just before the words
    they run on to. faster-whisper's VAD joins the speech it finds into chunks with the
    sound between left out, and a word that straddles a join takes the times of the part
    before it: an intro jingle's first note taken for 0.1 s of speech put the first word of
    a call that starts 20 s later at 0.0 s ("Thanks" at 0.0, "for joining the call today."
    at 21.0). Such a word lies before a gap of ``STRAY_GAP`` s or more, ends no sentence,
    and is hardly voiced where it was timed. Runs of them move together (checked from the
    last)."""
    out = list(words)
    for i in range(len(out) - 2, -1, -1):
        w, nxt = out[i], out[i + 1]
        if nxt.start - w.end < STRAY_GAP or ends_sentence(w.text):
            continue
        if vad.voiced_share(pcm, sample_rate, w.start, w.end) >= STRAY_SPEECH:
            continue
        length = min(w.end - w.start, STRAY_LONGEST)
        out[i] = Word(round(max(nxt.start - length, w.end), 3), nxt.start, w.text)
        log.debug("word %r moved from %.2f s to %.2f s (not voiced where it was timed)",
                  w.text, w.start, out[i].start)
    return out


def transcribe_openai_whisper(model, audio: np.ndarray, *, language: str,
                              progress: Progress | None = None) -> list[Word]:
    """Words with times from openai-whisper (fp32 on the CPU)."""
    result = model.transcribe(audio, language=language or None, word_timestamps=True,
                              temperature=0.0, fp16=False, condition_on_previous_text=False,
                              verbose=None)
    words: list[Word] = []
    for seg in result.get("segments", []):
        for w in seg.get("words", []):
            if w["word"].strip():
                words.append(Word(round(float(w["start"]), 3), round(float(w["end"]), 3),
                                  w["word"].strip()))
        if progress:
            progress(float(seg["end"]))
    return words
