"""Voice embeddings: who sounds like whom.

The pretrained speaker encoder that ships inside the `resemblyzer` wheel (Apache-2.0): a
three-layer LSTM over 40-band mel power frames (25 ms windows every 10 ms) whose last state,
through a linear layer and a ReLU, gives a 256-d unit vector per 1.6 s of speech; voices of
one person lie close together. Only its weights file is used (the package itself is never
imported, so its own dependencies are not needed); the network is rebuilt here with torch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import load_librosa

SAMPLE_RATE = 16000
HOP = 160            # samples per mel frame (10 ms)
N_FFT = 400          # 25 ms
N_MELS = 40
WINDOW = 160         # frames the encoder sees at once (1.6 s)
LEVEL_DBFS = -30.0   # speech is raised to this level before the mel (never lowered)
BATCH = 256
ENCODER = "resemblyzer-0.1.4"   # recorded in caches: turns made with another encoder are redone


CHUNK = 600 * SAMPLE_RATE  # samples per mel call: memory stays flat however long the audio


def mel_frames(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(frames, 40) mel power of 16 kHz mono audio, one frame per 10 ms, computed ten
    minutes at a time."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError("voice embeddings need 16 kHz audio")
    librosa = load_librosa()
    energy = sum(float(np.dot(pcm[i:i + CHUNK].astype(np.float64), pcm[i:i + CHUNK]))
                 for i in range(0, len(pcm), CHUNK))
    rms = (energy / len(pcm)) ** 0.5 if len(pcm) else 0.0
    gain = np.float32(max(10 ** ((LEVEL_DBFS - 20 * np.log10(rms)) / 20), 1.0)) if rms > 0 \
        else np.float32(1.0)
    parts = []
    for i in range(0, len(pcm), CHUNK):
        piece = np.asarray(pcm[i:i + CHUNK], np.float32) * gain
        mel = librosa.feature.melspectrogram(y=piece, sr=SAMPLE_RATE, n_fft=N_FFT,
                                             hop_length=HOP, n_mels=N_MELS)
        parts.append(mel.astype(np.float32).T[:-(-len(piece) // HOP) or None])
    return np.concatenate(parts) if parts else np.zeros((0, N_MELS), np.float32)


class VoiceEncoder:
    """The speaker encoder; ``embed`` maps (n, frames, 40) mel windows to (n, 256) unit vectors.
    Load it through ``models.load_voice_encoder()`` (found, loaded once, under the import
    lock)."""

    def __init__(self, path: Path):
        import torch
        state = torch.load(path, map_location="cpu", weights_only=False)["model_state"]
        self.torch = torch
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()

    def embed(self, mels: np.ndarray) -> np.ndarray:
        torch = self.torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(mels), BATCH):
                x = torch.from_numpy(np.ascontiguousarray(mels[i:i + BATCH], np.float32))
                _, (h, _) = self.lstm(x)
                e = torch.relu(self.linear(h[-1]))
                out.append((e / e.norm(dim=1, keepdim=True).clamp_min(1e-9)).numpy())
        return np.concatenate(out) if out else np.zeros((0, 256), np.float32)
