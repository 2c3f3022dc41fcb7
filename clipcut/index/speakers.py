"""Who speaks when: speaker turns from caption voice tags, or diarized from the audio.

Diarization: speech is cut at the pauses of the pause map into pieces of at most
``MAX_PIECE`` s; each piece gets a voice embedding (``voices``); the speakers and how many
there are come from spectral clustering of the longer pieces (``cluster``); then every piece
takes the nearest speaker, with a price on changing speaker between neighbours. Consecutive
pieces of one speaker make a turn. Labels are S1, S2, ... in order of first appearance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Sentence, Word
from . import voices

METHOD = "pieces-spectral-lda-7"  # recorded in caches; a cache made with another method gets
                              # its turns (and sentence splits) made again
MAX_PIECE = 2.0     # longest piece of speech given one embedding (s)
MIN_PIECE = 0.3     # shorter pieces of speech are ignored (s)
STEP = 20           # voice windows shorter than 1.6 s are a multiple of this many frames (10 ms)
MIN_SPEAKER = 4.0   # a cluster with less speech than this joins the nearest larger one (s)
TURN_GAP = 2.0      # pieces of one speaker closer than this make one turn (s)
LONG = 1.0          # pieces at least this long find the speakers (s)
SAMPLE = 1500       # at most this many of them (the affinity matrix is SAMPLE x SAMPLE)
WHITEN = 16         # whitened directions of the recording's voices used to assign pieces
SHARPNESS = 10.0    # score scale of a piece's similarity to a speaker, per second of speech
SWITCH = 6.0        # score price of a change of speaker between consecutive pieces
SAME_VOICE = 0.96   # speakers whose mean voice vectors are closer than this (cosine) are one (tune_same_voice.py)
SPOKEN = 1.0        # a diarized speaker whose turns hold less transcribed speech is dropped (s)
SPLIT_GAP = 0.15    # a sentence is split at a change of speaker only where a pause this long is (s)
LDA_ROUNDS = 2      # rounds of discriminant refinement
LDA_REG = 1e-3      # ridge added to the within-speaker scatter
LDA_SWITCH = 2.0    # price of a change of speaker in the discriminant space (squared distance)
MIN_NEIGHBOURS = 6  # the pruned affinity graph keeps at least this many neighbours per piece


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def speech_pieces(duration: float, pauses: np.ndarray, max_piece: float = MAX_PIECE,
                  min_piece: float = MIN_PIECE) -> list[tuple[float, float]]:
    """(start, end) runs of speech between the pauses, cut into near-equal parts of at most
    ``max_piece`` s; runs shorter than ``min_piece`` are dropped."""
    edges = [0.0] + [x for p in np.asarray(pauses).reshape(-1, 2) for x in p] + [duration]
    out = []
    for a, b in zip(edges[0::2], edges[1::2]):
        a, b = max(0.0, float(a)), min(duration, float(b))
        if b - a < min_piece:
            continue
        k = int(np.ceil((b - a) / max_piece))
        cuts = np.linspace(a, b, k + 1)
        out += [(float(x), float(y)) for x, y in zip(cuts[:-1], cuts[1:])]
    return out


def _windows(mel: np.ndarray, pieces: list[tuple[float, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Mel windows of the pieces, grouped by length: [(windows (n, frames, 40), owner piece of
    each)]. A piece up to a window long is one window of its own length (rounded up to
    ``STEP`` frames; the encoder reads any length, and nothing is spent on padding); a longer
    one gets windows from its start, the last one ending at its end."""
    groups: dict[int, tuple[list, list]] = {}
    per_s = voices.SAMPLE_RATE / voices.HOP
    n = len(mel)
    mel = np.concatenate([mel, np.zeros((voices.WINDOW, mel.shape[1]), mel.dtype)])
    for i, (a, b) in enumerate(pieces):
        f0, f1 = int(a * per_s), min(n, int(np.ceil(b * per_s)))
        if f1 - f0 < STEP:
            continue
        if f1 - f0 <= voices.WINDOW:
            size = min(voices.WINDOW, -(-(f1 - f0) // STEP) * STEP)
            f0 = max(0, f1 - size)
            starts = [f0]
        else:
            size = voices.WINDOW
            starts = list(range(f0, f1 - size, size)) + [f1 - size]
        wins, owner = groups.setdefault(size, ([], []))
        for s in starts:
            wins.append(mel[s:s + size])
            owner.append(i)
    return [(np.stack(w), np.asarray(o)) for _, (w, o) in sorted(groups.items())]


def piece_embeddings(pcm: np.ndarray, sample_rate: int, pieces: list[tuple[float, float]],
                     encoder: voices.VoiceEncoder) -> np.ndarray:
    """(len(pieces), 256) unit voice vectors, the mean over each piece's windows."""
    mel = voices.mel_frames(pcm, sample_rate)
    out = np.zeros((len(pieces), 256), np.float32)
    for wins, owner in _windows(mel, pieces):
        np.add.at(out, owner, encoder.embed(wins))
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _spectral(x: np.ndarray, max_speakers: int) -> np.ndarray:
    """Spectral clustering of unit vectors with the number of clusters found by the eigengap
    of a pruned affinity graph, the pruning chosen where the gap is clearest for the fewest
    neighbours kept (normalized maximum eigengap, Park et al. 2019)."""
    from scipy.cluster.vq import kmeans2
    from scipy.linalg import eigh
    n = len(x)
    sim = x @ x.T
    np.fill_diagonal(sim, 0.0)
    order = np.argsort(-sim, axis=1)
    best = None
    for share in (0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2):
        p = min(n - 1, max(MIN_NEIGHBOURS, int(n * share)))
        graph = np.zeros_like(sim)
        np.put_along_axis(graph, order[:, :p], 1.0, axis=1)
        graph = (graph + graph.T) / 2
        lap = np.diag(graph.sum(1)) - graph
        w, v = eigh(lap, subset_by_index=[0, min(max_speakers, n - 1)])
        gaps = np.diff(w)
        k = int(np.argmax(gaps)) + 1
        ratio = (p / n) / max(gaps[k - 1] / max(w.max(), 1e-9), 1e-9)
        if best is None or ratio < best[0]:
            best = (ratio, k, v[:, :k])
    _, k, vecs = best
    if k == 1:
        return np.zeros(n, np.int64)
    vecs = _unit(vecs + 1e-12)
    fits = []
    for seed in range(5):
        cent, lab = kmeans2(vecs, k, minit="++", seed=seed)
        fits.append((float(((vecs - cent[lab]) ** 2).sum()), seed, lab))
    return min(fits, key=lambda f: f[:2])[2].astype(np.int64)


def _viterbi(score: np.ndarray, switch: float) -> np.ndarray:
    """The label path maximising the summed scores minus ``switch`` per change of label."""
    n, k = score.shape
    total = score[0].copy()
    back = np.zeros((n, k), np.int64)
    for i in range(1, n):
        j = int(np.argmax(total))
        stay = total >= total[j] - switch
        back[i] = np.where(stay, np.arange(k), j)
        total = np.where(stay, total, total[j] - switch) + score[i]
    path = np.zeros(n, np.int64)
    path[-1] = int(np.argmax(total))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i][path[i]]
    return path


def _assign(x: np.ndarray, lengths: np.ndarray, labels: np.ndarray, rounds: int) -> np.ndarray:
    """Re-pick every piece's speaker: centroids of the clusters with enough speech, scores
    weighted by piece length (up to 2 s), a price on changing speaker between pieces."""
    for _ in range(rounds):
        ids = [k for k in np.unique(labels) if lengths[labels == k].sum() >= MIN_SPEAKER]
        if not ids:
            ids = [int(np.bincount(labels, weights=lengths).argmax())]
        cent = _unit(np.stack([x[labels == k].mean(0) for k in ids]))
        score = SHARPNESS * np.minimum(lengths, 2.0)[:, None] * (x @ cent.T)
        labels = _viterbi(score, SWITCH)
    return labels


def _discriminate(x: np.ndarray, lengths: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Refine the speakers in the directions that separate them best in this recording:
    linear discriminant analysis fitted on the current labels (weighted by piece length up
    to 2 s), every piece re-assigned to the nearest speaker mean there, with a price on
    changes; ``LDA_ROUNDS`` times."""
    from scipy.linalg import eigh
    for _ in range(LDA_ROUNDS):
        ids = [k for k in np.unique(labels) if lengths[labels == k].sum() >= MIN_SPEAKER]
        if len(ids) < 2:
            return labels
        w = np.minimum(lengths, 2.0)
        means = np.stack([np.average(x[labels == k], axis=0, weights=w[labels == k])
                          for k in ids])
        within = np.zeros((x.shape[1], x.shape[1]))
        for k, m in zip(ids, means):
            d = (x[labels == k] - m) * np.sqrt(w[labels == k])[:, None]
            within += d.T @ d
        within /= w[np.isin(labels, ids)].sum()
        between = np.cov(means.T, bias=True)
        _, vecs = eigh(between, within + LDA_REG * np.eye(len(within)))
        proj = vecs[:, ::-1][:, :len(ids) - 1]
        z, zm = x @ proj, means @ proj
        dist = ((z[:, None, :] - zm[None]) ** 2).sum(-1)
        labels = np.asarray(ids)[_viterbi(-np.minimum(lengths, 2.0)[:, None] * dist, LDA_SWITCH)]
    return labels


def cluster(emb: np.ndarray, lengths: np.ndarray, max_speakers: int = 12) -> np.ndarray:
    """A speaker number per piece (0-based, in no particular order).

    Speakers are found among pieces of at least ``LONG`` s (at most ``SAMPLE`` of them, evenly
    spread) by spectral clustering of the voice vectors centred on the recording's mean voice;
    every piece then picks its speaker, first in that space, then in the recording's whitened
    top ``WHITEN`` directions, where voices of one recording separate better, then in the
    discriminant directions of the speakers found so far (``_discriminate``)."""
    n = len(emb)
    long = np.flatnonzero(lengths >= LONG)
    if n == 0:
        return np.zeros(0, np.int64)
    if len(long) < 4:
        return np.zeros(n, np.int64)
    centred = _unit(emb - emb.mean(0))
    sample = long[np.linspace(0, len(long) - 1, min(len(long), SAMPLE)).round().astype(int)]
    labels = np.zeros(n, np.int64)
    labels[sample] = _spectral(centred[sample], max_speakers)
    rest = np.setdiff1d(np.arange(n), sample)
    if len(rest):
        cent = _unit(np.stack([centred[sample][labels[sample] == k].mean(0)
                               for k in np.unique(labels[sample])]))
        labels[rest] = np.unique(labels[sample])[np.argmax(centred[rest] @ cent.T, axis=1)]
    labels = _assign(centred, lengths, labels, 1)
    x = emb[long] - emb.mean(0)
    _, sv, vt = np.linalg.svd(x, full_matrices=False)
    d = min(WHITEN, len(sv))
    white = _unit((emb - emb.mean(0)) @ vt[:d].T / np.maximum(sv[:d], 1e-9))
    labels = _assign(white, lengths, labels, 3)
    labels = _discriminate(white, lengths, labels)
    # speakers whose mean voices are nearly the same are one
    ids = np.unique(labels)
    cent = _unit(np.stack([emb[labels == k].mean(0) for k in ids]))
    for a in range(len(ids)):
        for b in range(a):
            if cent[a] @ cent[b] > SAME_VOICE:
                labels[labels == ids[a]] = ids[b]
                break
    return labels


def turns_from_pieces(pieces: list[tuple[float, float]], labels: np.ndarray,
                      gap: float = TURN_GAP) -> list[Turn]:
    """Consecutive pieces of one speaker joined into turns, named S1, S2, ... by first
    appearance (``labels``: cluster numbers, or the names of turns being named again)."""
    names: dict = {}
    out: list[Turn] = []
    for (a, b), k in zip(pieces, labels.tolist()):
        name = names.setdefault(k, f"S{len(names) + 1}")
        if out and out[-1].speaker == name and a - out[-1].end <= gap:
            out[-1] = Turn(out[-1].start, b, name)
        else:
            out.append(Turn(a, b, name))
    return out


def diarize(pcm: np.ndarray, sample_rate: int, pauses: np.ndarray, duration: float,
            encoder: voices.VoiceEncoder, max_speakers: int = 12) -> list[Turn]:
    """Speaker turns of a recording from its audio alone."""
    pieces = speech_pieces(duration, pauses)
    if not pieces:
        return []
    emb = piece_embeddings(pcm, sample_rate, pieces, encoder)
    lengths = np.array([b - a for a, b in pieces])
    return turns_from_pieces(pieces, cluster(emb, lengths, max_speakers))


def within_speech(turns: list[Turn], sents: list[Sentence]) -> list[Turn]:
    """Diarized turns cut to the speech the transcript holds. Music, a jingle or applause
    is loud, so it is not a pause, and the diarizer gives it a voice of its own (a
    podcast's intro music became "S1" of a one-voice talk). A turn that overlaps no sentence
    is dropped; one that runs more than ``TURN_GAP`` s past its first or last sentence is
    cut there (shorter edges stay: the recognizer leaves out some speech at chunk ends); a
    speaker whose turns hold less than ``SPOKEN`` s of sentences is dropped (a sentence that
    runs into the music overlaps it a little); the labels are numbered again by first
    appearance."""
    if not turns:
        return turns
    spans = np.array([(s.start, s.end) for s in sents], np.float64).reshape(-1, 2)
    kept: list[Turn] = []
    spoken: dict[str, float] = {}
    for t in turns:
        over = spans[(spans[:, 1] > t.start) & (spans[:, 0] < t.end)]
        if not len(over):
            continue
        inside = np.minimum(over[:, 1], t.end) - np.maximum(over[:, 0], t.start)
        spoken[t.speaker] = spoken.get(t.speaker, 0.0) + float(inside.sum())
        first, last = float(over[0, 0]), float(over[-1, 1])
        kept.append(Turn(first if first - t.start > TURN_GAP else t.start,
                         last if t.end - last > TURN_GAP else t.end, t.speaker))
    kept = [t for t in kept if spoken[t.speaker] >= SPOKEN]
    return turns_from_pieces([(t.start, t.end) for t in kept],
                             np.array([t.speaker for t in kept], dtype=object))


def from_cues(cues: list[tuple[float, float, str, str]]) -> list[Turn]:
    """Turns from caption cues that name their speaker; a cue without a name continues the
    last named speaker's turn (captions often name a speaker only when the speaker changes).
    Empty when no cue names a speaker."""
    if not any(c[3] for c in cues):
        return []
    out: list[Turn] = []
    current = ""
    for start, end, _, speaker in cues:
        current = speaker or current or "S1"
        if out and out[-1].speaker == current:
            out[-1] = Turn(out[-1].start, max(out[-1].end, end), current)
        else:
            out.append(Turn(start, end, current))
    return out


def _speaker_at(t: float, starts: np.ndarray, ends: np.ndarray, who: list[str]) -> str:
    """The speaker of the turn holding time ``t`` (of the nearest turn between turns)."""
    k = int(np.searchsorted(starts, t, "right")) - 1
    if k >= 0 and t < ends[k]:
        return who[k]
    near = [j for j in (k, k + 1) if 0 <= j < len(who)]
    return who[min(near, key=lambda j: min(abs(t - starts[j]), abs(t - ends[j])))]


def split_at_turns(sents: list[Sentence], words: list[Word], turns: list[Turn],
                   pauses: np.ndarray) -> list[Sentence]:
    """Sentences cut where the speaker changes inside them (caption cues and ASR sentences
    can run across a change of speaker), at the word where the next turn begins, when a
    pause lies between the two words (a gap of ``SPLIT_GAP`` s between them, or a pause of
    the pause map between their middles, since ASR words can stretch over a pause): a
    change of label between two words that run on is more likely an error of the diarizer
    than an interruption."""
    if not turns or not words:
        return sents
    pauses = np.asarray(pauses, np.float64).reshape(-1, 2)

    def paused(a: Word, b: Word) -> bool:
        lo, hi = (a.start + a.end) / 2, (b.start + b.end) / 2
        return b.start - a.end >= SPLIT_GAP or bool(
            ((pauses[:, 0] < hi) & (pauses[:, 1] > lo)).any())
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    who = [t.speaker for t in turns]
    w_mid = np.array([(w.start + w.end) / 2 for w in words])
    out: list[Sentence] = []
    for s in sents:
        a, b = (int(i) for i in np.searchsorted(w_mid, [s.start, s.end], "left"))
        inside = words[a:b]
        labels = [_speaker_at(float(m), starts, ends, who) for m in w_mid[a:b]]
        runs: list[list[Word]] = []
        for i, (w, lab) in enumerate(zip(inside, labels)):
            if i == 0 or (lab != labels[i - 1] and paused(inside[i - 1], w)):
                runs.append([])
            runs[-1].append(w)
        if len(runs) < 2:
            out.append(s)
            continue
        for k, run in enumerate(runs):
            out.append(Sentence(s.start if k == 0 else run[0].start,
                                s.end if k == len(runs) - 1 else run[-1].end,
                                " ".join(w.text for w in run)))
    return out


def label_sentences(sent_start: np.ndarray, sent_end: np.ndarray, turns: list[Turn]) -> np.ndarray:
    """The speaker of each sentence: the one whose turns overlap it most (the nearest turn's
    speaker when none overlaps); empty strings when there are no turns."""
    out = np.full(len(sent_start), "", dtype=object)
    if not turns:
        return out.astype(np.str_)
    ts = np.array([t.start for t in turns])
    te = np.array([t.end for t in turns])
    who = np.array([t.speaker for t in turns], dtype=object)
    for i, (a, b) in enumerate(zip(sent_start, sent_end)):
        ov = np.minimum(te, b) - np.maximum(ts, a)
        if ov.max() > 0:
            share: dict[str, float] = {}
            for k in np.flatnonzero(ov > 0):
                share[who[k]] = share.get(who[k], 0.0) + ov[k]
            out[i] = max(share, key=share.get)
        else:
            out[i] = who[np.argmin(np.minimum(np.abs(ts - b), np.abs(te - a)))]
    return out.astype(np.str_)
