"""A numpy forward pass of a BERT sentence encoder (all-MiniLM-L6-v2 and its kind: mean
pooling, then L2 normalization), for encoding queries without importing torch.

A query is a few dozen word pieces, so six layers of 384-d attention take about a
millisecond in numpy, while importing torch and sentence-transformers takes seconds. The
index still embeds with sentence-transformers (batches of thousands of sentences); a test
checks that both give the same vectors.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .nn import attention, gelu, layer_norm

MAX_TOKENS = 256  # as sentence-transformers' max_seq_length for this model


def supported(path: Path) -> bool:
    """True for a BERT model folder with safetensors weights, a fast tokenizer and mean pooling."""
    try:
        config = json.loads((path / "config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and (path / "model.safetensors").is_file()
            and (path / "tokenizer.json").is_file() and pooling.get("pooling_mode_mean_tokens")
            and not any(v for k, v in pooling.items()
                        if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"))


class BertEncoder:
    """Token and sentence embeddings of one text at a time, numpy only."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.config = json.loads((path / "config.json").read_text())
        self.w = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        # every special token counts as special wherever it appears ([UNK] included), as in
        # transformers' get_special_tokens_mask
        self.special_ids = np.array(sorted(i for i, t in
                                           self.tokenizer.get_added_tokens_decoder().items()
                                           if t.special))
        self.dim = int(self.config["hidden_size"])

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def forward_tokens(self, text: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(word pieces, special-token mask, token embeddings (n, d), mean-pooled embedding)."""
        enc = self.tokenizer.encode(text)
        ids = np.array(enc.ids)
        w, cfg = self.w, self.config
        eps = float(cfg.get("layer_norm_eps", 1e-12))
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = int(cfg["num_attention_heads"])
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."

            def lin(name, h):
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            ctx = attention(lin("attention.self.query", x), lin("attention.self.key", x),
                            lin("attention.self.value", x), heads)
            x = layer_norm(lin("attention.output.dense", ctx) + x,
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            h = gelu(lin("intermediate.dense", x))
            x = layer_norm(lin("output.dense", h) + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        tok = x.astype(np.float32)
        special = np.array(enc.special_tokens_mask, bool) | np.isin(ids, self.special_ids)
        return list(enc.tokens), special, tok, tok.mean(0)

    def encode(self, texts: list[str], normalize_embeddings: bool = True, **_) -> np.ndarray:
        out = np.stack([self.forward_tokens(t)[3] for t in texts])
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)
