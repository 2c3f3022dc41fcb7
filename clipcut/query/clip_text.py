"""The open_clip CLIP text tower as a numpy forward pass, so that a query on an index with
visual embeddings needs neither torch nor open_clip (importing them and building the model
takes 5-8 s; one query through twelve 512-d layers takes milliseconds in numpy).

When the visual model is first loaded (at index time, or by the first query that needs it),
its text tower is exported once to the user cache directory as a safetensors file (fp16,
~125 MB for ViT-B-32); later queries read it from there. Only the plain CLIP text tower
(pre-norm blocks, causal mask, argmax pooling, projection matrix) is exported; any other
tower keeps the torch path. A test checks that both paths give the same vector.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import html
import importlib.util
import json
import logging
import os
from pathlib import Path

import numpy as np

from .nn import attention, gelu, layer_norm, quick_gelu

log = logging.getLogger(__name__)

SOT, EOT = "<start_of_text>", "<end_of_text>"
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"   # open_clip's CLIP vocabulary
N_MERGES = 49152 - 256 - 2


def export_path(arch: str, weights: str) -> Path:
    """Where the text tower of ``arch`` with ``weights`` is (or will be) exported."""
    from ..cache import fingerprint, user_cache_dir

    src = Path(weights).resolve()
    key = hashlib.sha256(json.dumps([arch, str(src), fingerprint(src)],
                                    sort_keys=True).encode()).hexdigest()[:20]
    return user_cache_dir() / "clip-text" / f"{arch}-{key}.safetensors"


def _plain_clip(model) -> bool:
    import torch

    blocks = getattr(getattr(model, "transformer", None), "resblocks", None)
    return (getattr(model, "text_pool_type", None) == "argmax"
            and isinstance(getattr(model, "text_projection", None), torch.nn.Parameter)
            and getattr(model, "attn_mask", None) is not None and blocks is not None
            and all(isinstance(b.attn, torch.nn.MultiheadAttention)
                    and isinstance(b.ls_1, torch.nn.Identity)
                    and isinstance(b.ls_2, torch.nn.Identity)
                    and b.attn.in_proj_weight is not None for b in blocks))


def export(model, arch: str, weights: str) -> Path | None:
    """Write the text tower of a loaded open_clip model (once); None if it is not plain CLIP."""
    path = export_path(arch, weights)
    if path.exists():
        return path
    if not _plain_clip(model):
        log.info("%s text tower is not a plain CLIP tower; queries will load torch", arch)
        return None
    from safetensors.numpy import save_file

    blocks = model.transformer.resblocks
    tensors = {"token_embedding": model.token_embedding.weight,
               "positional_embedding": model.positional_embedding,
               "ln_final.weight": model.ln_final.weight, "ln_final.bias": model.ln_final.bias,
               "text_projection": model.text_projection}
    for i, b in enumerate(blocks):
        for name, t in {"ln_1.weight": b.ln_1.weight, "ln_1.bias": b.ln_1.bias,
                        "in_proj.weight": b.attn.in_proj_weight,
                        "in_proj.bias": b.attn.in_proj_bias,
                        "out_proj.weight": b.attn.out_proj.weight,
                        "out_proj.bias": b.attn.out_proj.bias,
                        "ln_2.weight": b.ln_2.weight, "ln_2.bias": b.ln_2.bias,
                        "c_fc.weight": b.mlp.c_fc.weight, "c_fc.bias": b.mlp.c_fc.bias,
                        "c_proj.weight": b.mlp.c_proj.weight,
                        "c_proj.bias": b.mlp.c_proj.bias}.items():
            tensors[f"{i}.{name}"] = t
    arrays = {k: v.detach().float().numpy().astype(np.float16) for k, v in tensors.items()}
    act = type(blocks[0].mlp.gelu).__name__
    meta = {"arch": arch, "layers": str(len(blocks)), "heads": str(blocks[0].attn.num_heads),
            "eps": repr(blocks[0].ln_1.eps), "act": "quick_gelu" if act == "QuickGELU" else "gelu",
            "context_length": str(model.positional_embedding.shape[0])}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(arrays, str(tmp), metadata=meta)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.info("cannot export the CLIP text tower to %s (%s)", path, exc)
        return None
    return path


def _byte_chars() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters (printable bytes map to
    themselves, the rest to code points from 256 on), in the vocabulary's order."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars = {b: chr(b) for b in keep}
    for n, b in enumerate(b for b in range(256) if b not in chars):
        chars[b] = chr(256 + n)
    return chars


class ClipTokenizer:
    """CLIP's byte-level BPE with open_clip's lower-case cleaning."""

    def __init__(self, bpe_file: Path, context_length: int = 77):
        import regex

        merges = gzip.open(bpe_file).read().decode("utf-8").split("\n")[1:N_MERGES + 1]
        merges = [tuple(m.split()) for m in merges]
        self.chars = _byte_chars()
        base = list(self.chars.values())
        vocab = base + [c + "</w>" for c in base] + ["".join(m) for m in merges] + [SOT, EOT]
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.context_length = context_length
        self.pattern = regex.compile(
            rf"{SOT}|{EOT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+",
            regex.IGNORECASE)
        self._memo: dict[str, list[str]] = {}

    def _bpe(self, token: str) -> list[str]:
        if token in self._memo:
            return self._memo[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            rank, pair = min((self.ranks.get(p, np.inf), p) for p in zip(word, word[1:]))
            if rank == np.inf:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._memo[token] = word
        return word

    def __call__(self, text: str) -> np.ndarray:
        try:
            import ftfy

            text = ftfy.fix_text(text)
        except ImportError:
            pass
        text = " ".join(html.unescape(html.unescape(text)).split()).lower()
        ids = [self.ids[SOT]]
        for token in self.pattern.findall(text):
            token = "".join(self.chars[b] for b in token.encode("utf-8"))
            ids.extend(self.ids[piece] for piece in self._bpe(token))
        ids = ids[:self.context_length - 1] + [self.ids[EOT]]
        return np.array(ids, dtype=np.int64)


def _memmap(path: Path, name: str) -> np.ndarray:
    """One fp16 tensor of a safetensors file, memory-mapped: a query reads only its rows of
    the 49,408-row token table."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        entry = json.loads(f.read(size))[name]
    if entry["dtype"] != "F16":
        raise ValueError(f"{name} is {entry['dtype']}, expected F16")
    return np.memmap(path, dtype=np.float16, mode="r", offset=8 + size + entry["data_offsets"][0],
                     shape=tuple(entry["shape"]))


class ClipTextTower:
    """One text at a time through an exported tower: unit vector in the joint space."""

    def __init__(self, path: Path):
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            meta = f.metadata()
            self.w = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()
                      if k != "token_embedding"}
        self.token_embedding = _memmap(path, "token_embedding")
        self.layers, self.heads = int(meta["layers"]), int(meta["heads"])
        self.eps = float(meta["eps"])
        self.act = quick_gelu if meta["act"] == "quick_gelu" else gelu
        spec = importlib.util.find_spec("open_clip")
        locations = list(spec.submodule_search_locations or []) if spec else []
        bpe = next((Path(p) / BPE_FILE for p in locations if (Path(p) / BPE_FILE).is_file()), None)
        if bpe is None:
            raise FileNotFoundError(f"{BPE_FILE} (from open_clip_torch)")
        self.tokenizer = ClipTokenizer(bpe, int(meta["context_length"]))

    def encode(self, text: str) -> np.ndarray:
        ids = self.tokenizer(text)
        x = self.token_embedding[ids].astype(np.float32)
        w = self.w
        x = x + w["positional_embedding"][:len(ids)]
        for i in range(self.layers):
            p = f"{i}."
            h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            q, k, v = np.split(h @ w[p + "in_proj.weight"].T + w[p + "in_proj.bias"], 3, axis=1)
            x = x + attention(q, k, v, self.heads, causal=True) @ w[p + "out_proj.weight"].T \
                + w[p + "out_proj.bias"]
            h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            h = self.act(h @ w[p + "c_fc.weight"].T + w[p + "c_fc.bias"])
            x = x + h @ w[p + "c_proj.weight"].T + w[p + "c_proj.bias"]
        x = layer_norm(x, w["ln_final.weight"], w["ln_final.bias"], self.eps)
        v = x[int(np.argmax(ids))] @ w["text_projection"]
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def load(arch: str, weights: str) -> ClipTextTower | None:
    """The exported tower for these weights, or None (not exported, unreadable, or not
    plain CLIP): the caller then takes the torch path."""
    if not weights:
        return None
    try:
        path = export_path(arch, weights)
        return ClipTextTower(path) if path.exists() else None
    except (OSError, ValueError, KeyError, ImportError) as exc:
        log.info("numpy CLIP text tower unavailable (%s); using open_clip", exc)
        return None
