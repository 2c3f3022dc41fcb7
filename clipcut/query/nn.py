"""The numpy pieces of a transformer forward pass shared by the query-side encoders
(MiniLM in bert.py, the CLIP text tower in clip_text.py)."""
from __future__ import annotations

import math

import numpy as np


def erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and scipy is slow to import
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def gelu(x: np.ndarray) -> np.ndarray:
    # Python floats, not numpy scalars: a numpy float64 scalar would turn float32 into float64
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def quick_gelu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-1.702 * x))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int,
              causal: bool = False) -> np.ndarray:
    """Multi-head scaled dot-product attention of (n, d) projections; returns (n, d)."""
    n, d = q.shape
    hd = d // heads
    q, k, v = (m.reshape(n, heads, hd).transpose(1, 0, 2) for m in (q, k, v))
    att = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
    if causal:
        att = att + np.triu(np.full((n, n), -np.inf, dtype=att.dtype), 1)
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    return (att @ v).transpose(1, 0, 2).reshape(n, d)
