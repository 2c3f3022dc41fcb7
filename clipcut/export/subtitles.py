"""SubRip (.srt) subtitles of a clip: its sentences on the clip's own clock (0 at the clip's
start), split into cues a viewer can read, the speaker named where the speaker changes.

Each sentence gets cues of its own. A sentence too long for one cue is split at word
boundaries into as few cues as the limits allow, as even in length as possible; cues are
timed by the word times when the cache has them, else in proportion to the characters.
"""
from __future__ import annotations

from ..types import Clip

MAX_CHARS = 42   # characters per subtitle line (the common broadcast limit); two lines a cue
MAX_CUE = 7.0    # longest cue (s): longer ones are split even when the text would fit
MIN_CUE = 1.0    # a shorter cue stays up this long (s) when the next cue leaves room

Token = tuple[float, float, str]  # (start, end) in seconds of the recording, one word


def _proportional(start: float, end: float, words: list[str]) -> list[Token]:
    """``words`` spread over [start, end] in proportion to their characters (and a space)."""
    weights = [len(w) + 1 for w in words]
    total, done, out = sum(weights), 0, []
    for w, k in zip(words, weights):
        a = start + (end - start) * done / total
        done += k
        out.append((a, start + (end - start) * done / total, w))
    return out


def _tokens(line: dict) -> list[Token]:
    """A sentence's words with times: from its timed words when they are the same words as its
    text (an ASR word holding a space counts as its parts), else spread over the sentence."""
    words = line["text"].split()
    timed: list[Token] = []
    for s, e, w in line.get("words") or []:
        timed += _proportional(float(s), float(e), w.split())
    if len(timed) == len(words):
        # the shown words are always the sentence's own, so the cues add up to the transcript
        return [(s, e, w) for (s, e, _), w in zip(timed, words)]
    return _proportional(float(line["start"]), float(line["end"]), words)


def _wrap(words: list[str]) -> list[str] | None:
    """The words as one line, or as two lines as even as possible; None when they need more
    than two lines of MAX_CHARS."""
    text = " ".join(words)
    if len(text) <= MAX_CHARS:
        return [text]
    splits = [[" ".join(words[:k]), " ".join(words[k:])] for k in range(1, len(words))]
    fitting = [s for s in splits if max(map(len, s)) <= MAX_CHARS]
    return min(fitting, key=lambda s: max(map(len, s))) if fitting else None


def _fits(tokens: list[Token], prefix: list[str]) -> bool:
    return (tokens[-1][1] - tokens[0][0] <= MAX_CUE
            and _wrap(prefix + [w for _, _, w in tokens]) is not None)


def _split(tokens: list[Token], prefix: list[str]) -> list[list[Token]]:
    """The fewest cues that hold ``tokens`` within the limits, their lengths as even as
    possible (a single word that breaks a limit gets a cue of its own)."""
    # best[i]: (cues, sum of squared cue lengths, where the last cue starts) for tokens[:i]
    best: list[tuple[int, int, int] | None] = [(0, 0, 0)] + [None] * len(tokens)
    for i in range(1, len(tokens) + 1):
        for j in range(i - 1, -1, -1):
            piece = tokens[j:i]
            if j < i - 1 and not _fits(piece, prefix if j == 0 else []):
                break  # a longer piece cannot fit either
            size = sum(len(w) + 1 for _, _, w in piece)
            cost = (best[j][0] + 1, best[j][1] + size * size, j)
            if best[i] is None or cost[:2] < best[i][:2]:
                best[i] = cost
    pieces, i = [], len(tokens)
    while i > 0:
        j = best[i][2]
        pieces.append(tokens[j:i])
        i = j
    return pieces[::-1]


def _stamp(t: float) -> str:
    ms = round(t * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def srt(clip: Clip) -> str:
    """The clip's transcript as SubRip subtitles, timed from the clip's start and kept inside
    the clip; cues of at most two lines of MAX_CHARS characters and MAX_CUE seconds. When the
    clip has speakers, the first cue and each cue where the speaker changes start with the
    speaker's label ("S1: "). Empty when the clip has no transcript."""
    lines = clip.lines
    if not lines and clip.text.strip():
        lines = [{"speaker": None, "start": clip.start, "end": clip.end, "text": clip.text}]
    length = clip.end - clip.start

    def local(t: float) -> float:
        return min(max(t - clip.start, 0.0), length)

    cues: list[tuple[float, float, list[str]]] = []
    speaker = None
    for line in lines:
        tokens = _tokens(line)
        if not tokens:
            continue
        who = line.get("speaker")
        prefix = [f"{who}:"] if who is not None and who != speaker else []
        speaker = who
        for k, piece in enumerate(_split(tokens, prefix)):
            words = (prefix if k == 0 else []) + [w for _, _, w in piece]
            start = max(local(piece[0][0]), cues[-1][1] if cues else 0.0)
            end = max(local(piece[-1][1]), start)
            cues.append((start, end, _wrap(words) or [" ".join(words)]))
    out = []
    for n, (start, end, text) in enumerate(cues):
        # a cue shorter than MIN_CUE is hard to read: hold it until the next one, up to MIN_CUE
        room = cues[n + 1][0] if n + 1 < len(cues) else length
        end = max(end, min(start + MIN_CUE, room))
        out.append(f"{n + 1}\n{_stamp(start)} --> {_stamp(end)}\n" + "\n".join(text) + "\n")
    return "\n".join(out)
