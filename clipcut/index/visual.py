"""Visual embeddings: one L2-normalized open_clip image embedding per sampled frame."""
from __future__ import annotations

import numpy as np

# CLIP's pixel statistics (RGB, 0-1 scale), the ones open_clip uses for ViT-B-32.
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def embed_frames(model, frames: np.ndarray) -> np.ndarray:
    """(n, d) embeddings of (n, H, W, 3) uint8 RGB frames already at the tower's input size."""
    import torch

    x = (frames.astype(np.float32) / 255.0 - MEAN) / STD
    with torch.inference_mode():
        feats = model.encode_image(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        feats = torch.nn.functional.normalize(feats.float(), dim=-1)
    return feats.numpy().astype(np.float32)


def image_size(model) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)
