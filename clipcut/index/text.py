"""Text embeddings (sentence-transformers) for sentences and for windows."""
from __future__ import annotations

import numpy as np

from ..models import embedding_dim


def embed(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(n, d) L2-normalized embeddings; an empty text gets a zero vector."""
    dim = embedding_dim(model)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if keep:
        emb = model.encode([texts[i] for i in keep], batch_size=batch_size,
                           normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
        out[keep] = emb.astype(np.float32)
    return out
