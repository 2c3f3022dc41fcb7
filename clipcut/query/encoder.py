"""Query intent encoder: crisp (top-k sparse) attention over the sentence encoder's token
embeddings, a routing function that picks k per query, and query-dependent modality weights.

Untrained parameters are hand-set (see ``QueryEncoder``): token scores are the scaled
similarity of each content token to the query's mean token, k is the smallest choice that
covers the content tokens, and the modality weights come from the query's similarity to
short descriptions of visual and audio intent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..words import tokens

# Tokens that carry no intent: function words, hedges and the wording of questions about
# meetings ("what did the group discuss about ..."). They never receive attention.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
s t don uh um yeah okay oh maybe possibly perhaps sort kind somewhat probably like really
please show find give me clip clips moment moments part parts segment segments video
recording
""".split())
VISUAL_INTENT = "show what is on the screen: the slide, the picture, the product demo, the whiteboard"
AUDIO_INTENT = "the sound of laughter, applause, music or shouting"


def softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    out = np.zeros_like(x)
    if finite.any():
        e = np.exp(x[finite] - x[finite].max())
        out[finite] = e / e.sum()
    return out


def crisp_attention(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Attention weights: softmax over the allowed tokens, all but the k largest set to zero,
    renormalized to sum to 1 (ties go to the earlier token). All zeros if nothing is allowed."""
    scores = np.asarray(scores, dtype=np.float64)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    alpha = softmax(scores)
    allowed = np.flatnonzero(np.isfinite(scores))
    if len(allowed) == 0:
        return alpha
    order = allowed[np.argsort(-alpha[allowed], kind="stable")]
    sparse = np.zeros_like(alpha)
    sparse[order[:k]] = alpha[order[:k]]
    return sparse / sparse.sum()


def route_k(n_content: int, choices: tuple[int, ...]) -> int:
    """Hand-set router: the smallest k in ``choices`` covering the content tokens."""
    for k in sorted(choices):
        if k >= n_content:
            return k
    return max(choices)


def normalize(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@dataclass(frozen=True)
class EncodedQuery:
    text: str                     # the semantic part of the query
    vector: np.ndarray            # (d,) unit vector in the sentence encoder's space
    k: int                        # tokens kept by crisp attention
    tokens: tuple[str, ...]       # the tokens that received attention, best first
    weights: dict                 # modality -> weight (sums to 1)
    terms: tuple[str, ...]        # lexical terms for BM25
    visual: np.ndarray | None = None  # (dv,) CLIP text embedding when the visual path is on
    learned: object | None = None     # the trained LearnedEncoder (adapters for the segments)
    space: str = "minilm"             # the text space of ``vector``: "minilm" or "e5"
    # the query's content words (``query_words``) embedded one by one, as the recording's
    # sentences are (plain sentence embeddings, unit rows): for the ``word_shortfall`` signal
    word_vectors: np.ndarray | None = None
    # the query embedded plainly as one sentence (mean pooling), as the recording's sentences
    # are: for the ``standing`` signals of the confidence
    plain: np.ndarray | None = None


def content_mask(tokens: list[str], special: np.ndarray) -> np.ndarray:
    """True for word pieces that belong to a content word."""
    mask = ~special.astype(bool)
    # join word pieces ("kub", "##ern", "##etes") so the whole word is judged
    words = []
    for i, tok in enumerate(tokens):
        if tok.startswith("##") and words:
            words[-1][1].append(i)
            words[-1][0] += tok[2:]
        else:
            words.append([tok, [i]])
    for word, idx in words:
        if word.lower() in STOPWORDS or not re.search(r"[a-z0-9]", word.lower()):
            mask[idx] = False
    return mask


def lexical_terms(text: str) -> tuple[str, ...]:
    return tuple(w for w in tokens(text) if w not in STOPWORDS)


# Words that say how to ask rather than what to find ("what did the group discuss about ...").
FILLER = frozenset("""
discuss discussed discussing discussion discussions talk talked talking talks say said
says think thought thinks opinion opinions view views meeting meetings group team people
summarize summarise summary mention mentioned decide decided decision decisions agree
agreed propose proposed part parts kind like also well whole include included including
according overall general generally specific way ways thing things something anything
""".split())


# The query words embedded one by one for the confidence (``word_shortfall``): a long query
# pasted in (up to 2,000 characters, 125 content words) would otherwise add half a second.
MAX_SIGNAL_WORDS = 24


def query_words(text: str) -> tuple[str, ...]:
    """The query's content words, in order, without fillers or repeats."""
    seen, out = set(), []
    for w in lexical_terms(text):
        if w in FILLER or len(w) < 3 or w in seen:
            continue
        seen.add(w)
        out.append(w)
    return tuple(out)


class QueryEncoder:
    """Encodes queries with a text model loaded once (the numpy BERT of ``bert.py`` or a
    sentence-transformers model), optionally with trained weights (``learned.py``)."""

    def __init__(self, model, choices: tuple[int, ...] = (3, 5, 7, 10), mix: float = 0.5,
                 learned=None):
        self.model = model
        self.choices = tuple(choices)
        self.mix = mix
        self.learned = learned  # a LearnedEncoder, or None for the hand-set parameters
        self._anchors: np.ndarray | None = None

    def _forward(self, text: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        if hasattr(self.model, "forward_tokens"):  # the numpy BERT (clipcut.query.bert)
            return self.model.forward_tokens(text)
        import torch

        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        features = prepare([text])
        ids = features["input_ids"][0].tolist()
        tokens = self.model.tokenizer.convert_ids_to_tokens(ids)
        special = np.array(self.model.tokenizer.get_special_tokens_mask(
            ids, already_has_special_tokens=True), dtype=bool)
        with torch.inference_mode():
            out = self.model(features)
        tok = out["token_embeddings"][0].float().numpy()
        sent = out["sentence_embedding"][0].float().numpy()
        return tokens, special, tok, sent

    def modality_weights(self, vector: np.ndarray, visual_on: bool) -> dict:
        """Hand-set fusion: softmax over (visual, audio, text) logits from the query's
        similarity to descriptions of visual and audio intent; only scorable modalities count.
        Audio has no query-aligned embedding until the adapters are trained, so it gets 0."""
        if self._anchors is None:
            a = self.model.encode([VISUAL_INTENT, AUDIO_INTENT], normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
            self._anchors = a.astype(np.float32)
        sims = self._anchors @ vector
        return _as_weights([-1.5 + 4.0 * sims[0] if visual_on else -np.inf, -np.inf, 1.0])

    def _learned_k(self, mean: np.ndarray, n_content: int) -> int:
        """The router's k when the configured choices are the trained ones; a single
        configured choice is used as is; any other list falls back to the hand-set rule."""
        if len(self.choices) == 1:
            return self.choices[0]
        if set(self.choices) == set(self.learned.choices):
            return self.learned.route(mean, n_content)
        return route_k(n_content, self.choices)

    def _learned_weights(self, mean: np.ndarray, visual_on: bool) -> dict:
        logits = self.learned.fusion_logits(mean).astype(np.float64)
        if not visual_on:
            logits[0] = -np.inf
        if not self.learned.audio_trained:
            logits[1] = -np.inf  # audio did not help on validation: not scored
        return _as_weights(logits)

    def encode(self, text: str, visual_on: bool = False) -> EncodedQuery:
        """Crisp attention over the content tokens, mixed with mean pooling; with trained
        weights the scorer, k, mix, projection and modality weights are the learned ones."""
        lrn = self.learned
        tokens, special, tok, sent = self._forward(text)
        mask = content_mask(tokens, special)
        mean = normalize(sent)
        k, top, vector = 0, [], mean
        if mask.any():
            centre = normalize(tok[mask].mean(0))
            n_content = int(mask.sum())
            if lrn is None:
                scores = tok @ centre / np.sqrt(tok.shape[1]) * 8.0
                k, mix = route_k(n_content, self.choices), self.mix
            else:
                scores = lrn.token_scores(tok, centre)
                k, mix = self._learned_k(mean, n_content), lrn.mix()
            alpha = crisp_attention(scores, k, mask)
            crisp = normalize((alpha[:, None] * tok).sum(0))
            vector = normalize(mix * crisp + (1 - mix) * mean)
            top = [tokens[i] for i in np.argsort(-alpha, kind="stable")[:k] if alpha[i] > 0]
        if lrn is None:
            weights = self.modality_weights(vector, visual_on)
        else:
            vector, weights = lrn.project(vector), self._learned_weights(mean, visual_on)
        words = list(query_words(text))[:MAX_SIGNAL_WORDS]
        word_vectors = np.asarray(self.model.encode(words, normalize_embeddings=True),
                                  dtype=np.float32) if words else None
        return EncodedQuery(text, vector.astype(np.float32), k, tuple(top), weights,
                            lexical_terms(text), learned=lrn, word_vectors=word_vectors,
                            plain=mean.astype(np.float32))


class MultilingualQueryEncoder:
    """Queries for recordings in other languages, whose text was embedded with the
    multilingual encoder (``models.E5Text``): its own query vector (its engine exposes no
    token states, so no crisp attention), text only."""

    learned = None

    def __init__(self, model):
        self.model = model

    def encode(self, text: str, visual_on: bool = False) -> EncodedQuery:
        vector = normalize(np.asarray(self.model.query(text), dtype=np.float32))
        return EncodedQuery(text, vector.astype(np.float32), 0, (),
                            {"visual": 0.0, "audio": 0.0, "text": 1.0}, lexical_terms(text),
                            space="e5")


def _as_weights(logits) -> dict:
    w = softmax(np.asarray(logits, dtype=np.float64))
    return {"visual": float(w[0]), "audio": float(w[1]), "text": float(w[2])}


def clip_text_vector(model, tokenizer, text: str) -> np.ndarray:
    """The CLIP text tower's unit embedding of ``text`` (for scoring sampled frames)."""
    import torch

    with torch.inference_mode():
        v = model.encode_text(tokenizer([text]))[0].float()
    return normalize(v.numpy()).astype(np.float32)
