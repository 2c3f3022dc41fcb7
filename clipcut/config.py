"""Configuration: configs/default.toml read into frozen dataclasses, checked in one place."""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .errors import ClipcutError

DEFAULT_TOML = Path(__file__).with_name("default.toml")


@dataclass(frozen=True)
class IndexOptions:
    frame_rate: float
    frame_size: int
    sampling: str
    change: float
    max_gap: float
    window: float
    hop: float


@dataclass(frozen=True)
class AsrOptions:
    backend: str
    model: str
    compute_type: str
    beam_size: int
    other_beam_size: int
    batch_size: int
    other_batch_size: int
    chunk_length: int
    other_chunk_length: int
    vad: bool
    language: str
    max_sentence: float
    max_gap: float


@dataclass(frozen=True)
class TextOptions:
    model: str
    batch_size: int


@dataclass(frozen=True)
class VisualOptions:
    model: str
    weights: str
    batch_size: int
    quantize: bool
    duplicate: float


@dataclass(frozen=True)
class AudioOptions:
    sample_rate: int
    n_mels: int
    win_length: float
    hop_length: float
    silence_db: float
    silence_min: float


@dataclass(frozen=True)
class SceneOptions:
    threshold: float


@dataclass(frozen=True)
class SpeakerOptions:
    enabled: bool
    max_speakers: int


@dataclass(frozen=True)
class QueryOptions:
    encoder: str
    encoder_weights: str
    stage1_top: int
    extend: float
    crisp_k: tuple[int, ...]
    crisp_mix: float
    lexical_weight: float
    context: int
    context_weight: float
    span_weight: float
    span_floor: float
    region: float
    region_weight: float
    feedback: int
    feedback_weight: float
    min_confidence: float
    min_confidence_other: float
    confidence_weights: str
    relative_own: float
    continuity: float
    short: float
    short_stand_out: float
    min_len: float
    max_len: float
    pad: float
    snap_radius: float
    snap_sentence: float
    snap_scene: float
    snap_silence: float
    snap_distance: float
    turn_reach: float
    turn_stretch: float
    question_gap: float
    nms_overlap: float
    dedup_cosine: float
    reference_penalty: float
    time_weight: float
    time_sigma: float


@dataclass(frozen=True)
class LibraryOptions:
    candidates: int
    recordings: int
    per_recording: int
    exact: bool
    index_rows: int


@dataclass(frozen=True)
class CutOptions:
    reencode: bool
    crf: int
    preset: str


@dataclass(frozen=True)
class Config:
    index: IndexOptions
    asr: AsrOptions
    text: TextOptions
    visual: VisualOptions
    audio: AudioOptions
    scenes: SceneOptions
    speakers: SpeakerOptions
    query: QueryOptions
    library: LibraryOptions
    cut: CutOptions

    # sections whose values shape the cache; the rest only affect queries and cuts
    INDEX_SECTIONS = ("index", "asr", "text", "visual", "audio", "scenes")

    # [asr] keys that only shape a transcript made by ASR (not one read from captions)
    DECODING_KEYS = ("backend", "model", "compute_type", "beam_size", "other_beam_size",
                     "batch_size", "other_batch_size", "chunk_length", "other_chunk_length",
                     "vad")

    def index_digest(self, asr: bool = True) -> str:
        """A short hash of everything that shapes a cache (part of its staleness check);
        ``asr=False`` for a transcript from captions, which the decoding keys do not shape."""
        data = {name: asdict(getattr(self, name)) for name in self.INDEX_SECTIONS}
        if not asr:
            data["asr"] = {k: v for k, v in data["asr"].items() if k not in self.DECODING_KEYS}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def index_json(self) -> str:
        return json.dumps({name: asdict(getattr(self, name)) for name in self.INDEX_SECTIONS},
                          sort_keys=True)

    def with_section(self, section: str, **changes) -> "Config":
        """Return a copy with some keys of one section replaced (checked like the file)."""
        cfg = replace(self, **{section: replace(getattr(self, section), **changes)})
        _verify(cfg)
        return cfg


_SECTIONS = {f.name: f.type for f in fields(Config)}
_CLASSES = {"index": IndexOptions, "asr": AsrOptions, "text": TextOptions,
            "visual": VisualOptions, "audio": AudioOptions, "scenes": SceneOptions, "speakers": SpeakerOptions,
            "query": QueryOptions, "library": LibraryOptions, "cut": CutOptions}


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ClipcutError("config file not found; pass an existing TOML file", path=path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClipcutError(f"not valid TOML ({exc}); fix the file or drop --config", path=path)


def _coerce(section: str, cls, values: dict, source: Path):
    out = {}
    for f in fields(cls):
        if f.name not in values:
            raise ClipcutError(f"missing key [{section}] {f.name}", path=source)
        v = values[f.name]
        want = f.type if isinstance(f.type, str) else f.type.__name__
        if want == "float" and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = float(v)
        elif want == "int" and isinstance(v, int) and not isinstance(v, bool):
            pass
        elif want == "bool" and isinstance(v, bool):
            pass
        elif want == "str" and isinstance(v, str):
            pass
        elif want.startswith("tuple") and isinstance(v, list) and all(isinstance(x, int) for x in v):
            v = tuple(v)
        else:
            raise ClipcutError(f"[{section}] {f.name} = {v!r} should be a {want}", path=source)
        out[f.name] = v
    return cls(**out)


def _verify(cfg: Config) -> None:
    """Bounds that the pipelines rely on; one message per problem."""
    checks = [
        (cfg.index.frame_rate > 0, "[index] frame_rate must be > 0"),
        (0 < cfg.index.hop <= cfg.index.window, "[index] hop must be in (0, window]"),
        (cfg.index.sampling in ("keyframes", "all"), "[index] sampling must be 'keyframes' or 'all'"),
        (cfg.index.max_gap >= 1 / cfg.index.frame_rate, "[index] max_gap must be >= 1 / frame_rate"),
        (cfg.asr.backend in ("faster-whisper", "openai-whisper"),
         "[asr] backend must be 'faster-whisper' or 'openai-whisper'"),
        (cfg.audio.hop_length < cfg.audio.win_length, "[audio] hop_length must be < win_length"),
        (cfg.query.encoder in ("trained", "untrained"),
         "[query] encoder must be 'trained' or 'untrained'"),
        (cfg.query.stage1_top >= 1, "[query] stage1_top must be >= 1"),
        (cfg.library.candidates >= 1, "[library] candidates must be >= 1"),
        (cfg.library.recordings >= 1, "[library] recordings must be >= 1"),
        (cfg.library.per_recording >= 1, "[library] per_recording must be >= 1"),
        (len(cfg.query.crisp_k) > 0 and min(cfg.query.crisp_k) >= 1,
         "[query] crisp_k must list positive token counts"),
        (0 <= cfg.query.crisp_mix <= 1, "[query] crisp_mix must be in [0, 1]"),
        (0 < cfg.query.min_len <= cfg.query.max_len,
         f"the shortest clip must be over 0 and at most the longest: --min-len "
         f"{cfg.query.min_len:g}, --max-len {cfg.query.max_len:g} ([query] min_len, max_len)"),
        (cfg.query.pad >= 0, f"--pad ([query] pad) must be >= 0, not {cfg.query.pad:g}"),
        (min(cfg.query.turn_reach, cfg.query.turn_stretch, cfg.query.question_gap) >= 0,
         "[query] turn_reach, turn_stretch and question_gap must be >= 0"),
        (0 <= cfg.query.nms_overlap <= 1, "[query] nms_overlap must be in [0, 1]"),
        (cfg.query.region > 0 and cfg.query.region_weight >= 0,
         "[query] need region > 0 and region_weight >= 0"),
        (all(0 <= v <= 1 for v in (cfg.query.min_confidence, cfg.query.min_confidence_other)),
         "--min-confidence ([query] min_confidence, min_confidence_other) must be in [0, 1]"),
        (cfg.speakers.max_speakers >= 1, "[speakers] max_speakers must be >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise ClipcutError(message)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Defaults from configs/default.toml, overridden by ``path`` (or $CLIPCUT_CONFIG)."""
    data = _read(DEFAULT_TOML)
    override_path = path or os.environ.get("CLIPCUT_CONFIG")
    if override_path:
        override = _read(Path(override_path))
        for section, values in override.items():
            if section not in _CLASSES or not isinstance(values, dict):
                raise ClipcutError(f"unknown section [{section}]", path=override_path)
            unknown = set(values) - set(data[section])
            if unknown:
                raise ClipcutError(f"unknown key [{section}] {sorted(unknown)[0]}",
                                   path=override_path)
            data[section].update(values)
    source = Path(override_path) if override_path else DEFAULT_TOML
    cfg = Config(**{name: _coerce(name, cls, data.get(name, {}), source)
                    for name, cls in _CLASSES.items()})
    _verify(cfg)
    return cfg
