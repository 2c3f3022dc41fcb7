"""Coarse windows (30 s, 50 % overlap) and what each one holds."""
from __future__ import annotations

import numpy as np


def make_windows(duration: float, window: float = 30.0, hop: float = 15.0) -> np.ndarray:
    """(n, 2) start/end seconds: starts every ``hop`` s; the last window ends at ``duration``."""
    starts = [0.0]
    while starts[-1] + window < duration:
        starts.append(starts[-1] + hop)
    return np.array([[s, min(s + window, duration)] for s in starts], dtype=np.float64)


def members(windows: np.ndarray, mids: np.ndarray) -> list[np.ndarray]:
    """Indices of the items whose midpoint time lies in each window ([start, end))."""
    out = []
    last = len(windows) - 1
    for j, (a, b) in enumerate(windows):
        inside = (mids >= a) & ((mids < b) | ((j == last) & (mids <= b)))
        out.append(np.flatnonzero(inside))
    return out


def pool(rows: np.ndarray, groups: list[np.ndarray], normalize: bool = True) -> np.ndarray:
    """Mean of ``rows`` over each group (zeros for an empty group), optionally L2-normalized."""
    out = np.zeros((len(groups), rows.shape[1] if rows.ndim == 2 else 0), dtype=np.float32)
    for j, idx in enumerate(groups):
        if len(idx):
            out[j] = rows[idx].mean(0)
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return out
