"""The trained query side, in numpy: crisp attention scorer and projection, the k router, the
fusion MLP and the per-modality adapters (``scripts/train_encoder.py`` trains them in torch
with the same math; a test checks that both give the same numbers).

Every part starts at identity, so untrained parameters reproduce the pretrained baseline:
zero residual projections, a token scorer equal to the hand-set one, and audio left out
until a training run finds that it helps on validation (``config["audio_trained"]``).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

PACKAGED = Path(__file__).resolve().parent.parent / "weights" / "query_encoder.npz"
AUDIO_BIAS = -4.0  # initial audio logit of the fusion MLP: audio starts with ~0 weight


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def downweight(s: np.ndarray | float) -> np.ndarray:
    """Weight of a negative with similarity ``s`` to the query: 1 up to 0.5, then falling
    linearly to 0 at 1.0 (such negatives are often unlabelled positives)."""
    return np.clip(1.0 - 2.0 * (np.asarray(s, dtype=np.float64) - 0.5), 0.0, 1.0)


def init_params(dim: int = 384, n_mels: int = 80, hidden: int = 256, n_k: int = 4,
                channels: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Identity start: the untrained model equals the hand-set encoder."""
    rng = np.random.default_rng(seed)

    def dense(n_in, n_out):
        return rng.normal(0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32)

    f = np.float32
    return {
        "score_scale": np.array(8.0 / np.sqrt(dim), f),  # similarity-to-centre logit scale
        "score_vec": np.zeros(dim, f),                  # learned per-token logit term
        "mix_logit": np.array(0.0, f),                  # sigmoid -> share of the crisp vector
        "query_proj": np.zeros((dim, dim), f),          # residual projection of the query
        "text_adapter": np.zeros((dim, dim), f),        # residual adapter of segment embeddings
        "visual_adapter": np.zeros((512, 512), f),      # residual adapter of CLIP embeddings
        "router_w1": dense(dim + 1, hidden), "router_b1": np.zeros(hidden, f),
        "router_w2": np.zeros((hidden, n_k), f), "router_b2": np.zeros(n_k, f),
        "fusion_w1": dense(dim, hidden), "fusion_b1": np.zeros(hidden, f),
        "fusion_w2": np.zeros((hidden, 3), f),
        "fusion_b2": np.array([-2.0, AUDIO_BIAS, 0.0], f),
        "audio_mean": np.zeros(2 * n_mels, f), "audio_std": np.ones(2 * n_mels, f),
        "audio_conv1": dense(3 * 2 * n_mels, channels).reshape(3, 2 * n_mels, channels),
        "audio_b1": np.zeros(channels, f),
        "audio_conv2": dense(3 * channels, channels).reshape(3, channels, channels),
        "audio_b2": np.zeros(channels, f),
        "audio_out": rng.normal(0, 0.01, (channels, dim)).astype(f),
    }


def conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'same' 1D convolution over time: x (T, cin), w (width, cin, cout) -> (T, cout)."""
    width = w.shape[0]
    pad = width // 2
    xp = np.pad(x, ((pad, width - 1 - pad), (0, 0)))
    out = np.zeros((x.shape[0], w.shape[2]), dtype=np.float32)
    for i in range(width):
        out += xp[i:i + x.shape[0]] @ w[i]
    return out + b


@dataclass
class LearnedEncoder:
    params: dict[str, np.ndarray]
    config: dict
    provenance: dict

    @property
    def choices(self) -> tuple[int, ...]:
        return tuple(self.config["k_choices"])

    def token_scores(self, tok: np.ndarray, centre: np.ndarray) -> np.ndarray:
        p = self.params
        return float(p["score_scale"]) * (tok @ centre) + tok @ p["score_vec"]

    def mix(self) -> float:
        return float(1.0 / (1.0 + np.exp(-float(self.params["mix_logit"]))))

    def project(self, q: np.ndarray) -> np.ndarray:
        return unit(q + q @ self.params["query_proj"])

    def adapt_text(self, emb: np.ndarray) -> np.ndarray:
        """Segment embeddings (n, d) -> the shared space; zero rows stay zero."""
        if emb.size == 0:
            return emb
        return unit(emb + emb @ self.params["text_adapter"]).astype(np.float32)

    def adapt_visual(self, emb: np.ndarray) -> np.ndarray:
        """CLIP image embeddings through the residual visual adapter (skipped while it is
        still the identity: thousands of frames per query for nothing)."""
        a = self.params["visual_adapter"]
        if emb.size == 0 or emb.shape[-1] != a.shape[0] or not np.any(a):
            return emb
        return unit(emb + emb @ a).astype(np.float32)

    def route(self, mean: np.ndarray, n_content: int) -> int:
        p = self.params
        x = np.concatenate([mean, [n_content / 10.0]]).astype(np.float32)
        logits = relu(x @ p["router_w1"] + p["router_b1"]) @ p["router_w2"] + p["router_b2"]
        return self.choices[int(np.argmax(logits))]

    def fusion_logits(self, mean: np.ndarray) -> np.ndarray:
        p = self.params
        return relu(mean @ p["fusion_w1"] + p["fusion_b1"]) @ p["fusion_w2"] + p["fusion_b2"]

    @property
    def audio_trained(self) -> bool:
        return bool(self.config.get("audio_trained", False))

    def audio_embed(self, seconds: np.ndarray) -> np.ndarray:
        """Per-second log-mel statistics (T, 2*n_mels) of one segment -> (d,) unit vector."""
        p = self.params
        if len(seconds) == 0:
            return np.zeros(p["audio_out"].shape[1], np.float32)
        x = (seconds - p["audio_mean"]) / p["audio_std"]
        h = relu(conv1d(x.astype(np.float32), p["audio_conv1"], p["audio_b1"]))
        h = relu(conv1d(h, p["audio_conv2"], p["audio_b2"]))
        return unit(h.mean(0) @ p["audio_out"]).astype(np.float32)

    def audio_windows(self, audio_sec: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """(n_windows, d) audio embeddings of each window's seconds."""
        out = np.zeros((len(windows), self.params["audio_out"].shape[1]), np.float32)
        if not self.audio_trained:
            return out
        for j, (a, b) in enumerate(windows):
            out[j] = self.audio_embed(audio_sec[int(a):int(np.ceil(b))])
        return out


def save(path: Path, params: dict, config: dict, provenance: dict) -> None:
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    arrays["_config"] = np.array(json.dumps(config, sort_keys=True))
    arrays["_provenance"] = np.array(json.dumps(provenance, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


@functools.lru_cache(maxsize=4)
def load(path: str = "") -> LearnedEncoder:
    """The trained weights at ``path`` (empty: the ones shipped in the package)."""
    where = Path(path) if path else PACKAGED
    try:
        with np.load(where, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read query encoder weights {where}: {exc}; reinstall clipcut "
                         "or set query.encoder = \"untrained\"") from None
    config = json.loads(str(arrays.pop("_config")))
    provenance = json.loads(str(arrays.pop("_provenance")))
    expected = init_params(config["dim"], config["n_mels"], config["hidden"],
                           len(config["k_choices"]), config["channels"])
    for name, ref in expected.items():
        if name not in arrays or arrays[name].shape != ref.shape:
            raise ModelError(f"query encoder weights {where} do not match their config "
                             f"({name}); reinstall clipcut")
        if not np.all(np.isfinite(arrays[name])):
            raise ModelError(f"query encoder weights {where} hold non-finite values ({name})")
    return LearnedEncoder(arrays, config, provenance)
