"""Visual embeddings: one L2-normalized open_clip image embedding per sampled frame."""
from __future__ import annotations

import functools

import numpy as np

# CLIP's pixel statistics (RGB, 0-1 scale), the ones open_clip uses for ViT-B-32.
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def _attention_class():
    import torch
    import torch.nn.functional as F

    class Attention(torch.nn.Module):
        """nn.MultiheadAttention's self-attention with its input projection as an nn.Linear,
        so that dynamic quantization reaches it (a third of the tower's multiply-adds)."""

        def __init__(self, mha: torch.nn.MultiheadAttention):
            super().__init__()
            d = mha.embed_dim
            self.heads, self.batch_first = mha.num_heads, mha.batch_first
            self.qkv = torch.nn.Linear(d, 3 * d)
            self.qkv.weight.data.copy_(mha.in_proj_weight.data)
            self.qkv.bias.data.copy_(mha.in_proj_bias.data)
            self.out = torch.nn.Linear(d, d)
            self.out.weight.data.copy_(mha.out_proj.weight.data)
            self.out.bias.data.copy_(mha.out_proj.bias.data)

        def forward(self, q, k=None, v=None, need_weights=False, attn_mask=None):
            x = q if self.batch_first else q.transpose(0, 1)
            b, n, d = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask)
            y = self.out(y.transpose(1, 2).reshape(b, n, d))
            return (y if self.batch_first else y.transpose(0, 1)), None

    return Attention


@functools.lru_cache(maxsize=2)
def _quantized(model):
    """A copy of the image tower with int8 dynamic quantization of every linear layer,
    attention projections included (the model's own tower stays fp32 for anything else)."""
    import copy
    import warnings

    import torch

    tower = copy.deepcopy(model.visual)
    attention = _attention_class()
    for block in getattr(getattr(tower, "transformer", None), "resblocks", []):
        if isinstance(getattr(block, "attn", None), torch.nn.MultiheadAttention) \
                and block.attn.in_proj_weight is not None:
            block.attn = attention(block.attn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        return torch.ao.quantization.quantize_dynamic(tower, {torch.nn.Linear},
                                                      dtype=torch.qint8, inplace=True)


def image_tower(model, quantize: bool):
    """The callable that maps normalized pixels to image features."""
    return _quantized(model) if quantize else model.visual


def embed_frames(tower, frames: np.ndarray) -> np.ndarray:
    """(n, d) embeddings of (n, H, W, 3) uint8 RGB frames already at the tower's input size."""
    import torch

    x = (frames.astype(np.float32) / 255.0 - MEAN) / STD
    with torch.inference_mode():
        feats = tower(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        feats = torch.nn.functional.normalize(feats.float(), dim=-1)
    return feats.numpy().astype(np.float32)


class NearDuplicates:
    """Frame by frame: does this frame need the image tower, or may it reuse the last embedded
    frame's embedding (thumbnails within ``threshold`` levels, less than ``max_gap`` s on)?"""

    def __init__(self, threshold: float, max_gap: float):
        self.threshold, self.max_gap = threshold, max_gap
        self.rows: list[int] = []   # per frame seen: its row among the embedded frames
        self._last = None           # (time, thumbnail) of the last embedded frame

    def new(self, t: float, thumb: np.ndarray) -> bool:
        from .media import difference

        last = self._last
        if (last is not None and t - last[0] < self.max_gap
                and difference(thumb, last[1]) <= self.threshold):
            self.rows.append(self.rows[-1])
            return False
        self.rows.append(self.rows[-1] + 1 if self.rows else 0)
        self._last = (t, thumb)
        return True


def image_size(model) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)
