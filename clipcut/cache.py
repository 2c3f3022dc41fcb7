"""The only reader and writer of the sidecar cache (`VIDEO.clipcut.npz`).

A cache is plain arrays plus one JSON string of metadata: the schema version, a fingerprint
of the source (and of the captions used), the model ids and the index config. It is written
to a temporary name and renamed, loaded with allow_pickle=False, and never trusted when any
of those differ or its arrays are malformed: the caller rebuilds it.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tempfiles
from .errors import CacheError

log = logging.getLogger(__name__)

SCHEMA = 4  # 2: content fingerprints (no mtime, no path), generation, creation time;
            # 3: speaker turns (a schema-2 cache is upgraded in place: only speakers are added)
            # 4: the spoken language; other languages transcribed and embedded with the
            #    multilingual models (older caches are rebuilt)
SUFFIX = ".clipcut.npz"
HASH_BYTES = 1 << 20  # bytes hashed at the head and at the tail of the source
SAMPLE_BYTES = 1 << 16  # bytes hashed at each of SAMPLES offsets between head and tail
SAMPLES = 16

# name -> (dtype kind, number of dimensions); the first axis must agree within each group
ARRAYS = {
    "sent_start": ("f", 1), "sent_end": ("f", 1), "sent_text": ("U", 1), "sent_emb": ("f", 2),
    "windows": ("f", 2), "win_text": ("f", 2), "win_visual": ("f", 2), "win_audio": ("f", 2),
    "frame_times": ("f", 1), "frame_emb": ("f", 2), "audio_sec": ("f", 2),
    "silences": ("f", 2), "scenes": ("f", 1),
}
# arrays written since schema 2 began; a cache without them loads with them empty
OPTIONAL = {"word_start": ("f", 1), "word_end": ("f", 1), "word_text": ("U", 1),
            "pauses": ("f", 2), "turns": ("f", 2), "turn_speaker": ("U", 1),
            "sent_speaker": ("U", 1)}
# arrays whose first axes agree; an optional one that an older cache lacks is left out
GROUPS = [("sent_start", "sent_end", "sent_text", "sent_emb", "sent_speaker"),
          ("windows", "win_text", "win_visual", "win_audio"), ("frame_times", "frame_emb"),
          ("word_start", "word_end", "word_text"), ("turns", "turn_speaker")]


@dataclass
class Index:
    """A loaded cache: ``meta`` (dict) and the arrays named in ARRAYS as attributes."""

    meta: dict
    arrays: dict

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def duration(self) -> float:
        return float(self.meta["duration"])


def fingerprint(path: Path) -> dict:
    """What a file holds, never where it is or when it was touched: its size and a hash of its
    first and last MiB and of 16 blocks spread between them. A recording moved, renamed,
    copied (`cp` without -p, rsync) or hard-linked keeps its fingerprint, so its cache stays
    current; re-encoded or edited media change size or hashed bytes."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(HASH_BYTES))
        if size > 2 * HASH_BYTES:
            span = size - 2 * HASH_BYTES - SAMPLE_BYTES
            for i in range(SAMPLES):
                f.seek(HASH_BYTES + span * (i + 1) // (SAMPLES + 1))
                h.update(f.read(SAMPLE_BYTES))
            f.seek(-HASH_BYTES, os.SEEK_END)
        h.update(f.read(HASH_BYTES))
    return {"size": size, "sha256": h.hexdigest()}


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clipcut"


def sidecar_path(video: Path) -> Path:
    return video.with_name(video.name + SUFFIX)


def fallback_path(video: Path) -> Path:
    key = hashlib.sha256(str(video.resolve()).encode()).hexdigest()[:16]
    return user_cache_dir() / f"{key}-{video.name}{SUFFIX}"


@contextlib.contextmanager
def build_lock(video: Path):
    """Hold an exclusive lock for indexing ``video`` (two indexers never build the same file at
    once; the second waits, then finds the first one's cache). The lock file lives in the user
    cache directory, so nothing is left beside the recording."""
    folder = user_cache_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(video.resolve()).encode()).hexdigest()[:24]
    with tempfiles.exclusive(folder / f"{key}.lock"):
        yield


def candidates(video: Path) -> list[Path]:
    """Where a cache for ``video`` may be, in the order they are tried."""
    return [sidecar_path(video), fallback_path(video)]


def write_path(video: Path) -> Path:
    """The sidecar when the video's folder is writable, else the user cache directory."""
    folder = video.resolve().parent
    if os.access(folder, os.W_OK | os.X_OK):
        return sidecar_path(video)
    log.info("%s: folder is read-only; caching in %s", video, user_cache_dir())
    return fallback_path(video)


def save(path: Path, meta: dict, arrays: dict) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, rename."""
    missing = set(ARRAYS) - set(arrays)
    if missing:
        raise ValueError(f"cache arrays missing: {sorted(missing)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta, sort_keys=True))
    fd, tmp = tempfiles.create(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CacheError(f"cannot write cache ({exc.strerror}); free space or pick a writable "
                         "folder", path=path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_orphans(path: Path) -> None:
    """Delete temporary files a killed writer of ``path`` left (a live writer's file is left
    alone). index_video calls it before it looks for a cache, so it runs whether or not the
    cache is rebuilt."""
    tempfiles.remove_orphans(path.parent, f".{glob.escape(path.name)}.*.tmp", ".tmp")


def _check(arrays: dict) -> str | None:
    """Why the arrays cannot be trusted, or None (missing optional arrays are added empty)."""
    absent = {name for name in OPTIONAL if name not in arrays}
    for name, (kind, ndim) in OPTIONAL.items():
        if name in absent:
            arrays[name] = np.zeros((0,) * ndim, np.float64 if kind == "f" else np.str_)
    for name, (kind, ndim) in {**ARRAYS, **OPTIONAL}.items():
        a = arrays.get(name)
        if a is None:
            return f"array {name} missing"
        if a.dtype.kind != kind or a.ndim != ndim:
            return f"array {name} has dtype {a.dtype} and {a.ndim} dimensions"
        if kind == "f" and not np.isfinite(a).all():
            return f"array {name} holds NaN or infinite values"
    for group in GROUPS:
        lengths = {len(arrays[n]) for n in group if n not in absent}
        if len(lengths) > 1:
            return f"arrays {', '.join(group)} disagree in length"
    return None


def load_meta(path: Path) -> dict | None:
    """Only the metadata of the cache at ``path`` (no arrays are read), or None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def load(path: Path) -> Index | None:
    """The cache at ``path``, or None (with a warning when one exists but is unusable)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable cache (%s); rebuilding it", path, exc.__class__.__name__)
        return None
    problem = _check(arrays)
    if problem or not isinstance(meta, dict):
        log.warning("%s: damaged cache (%s); rebuilding it", path, problem or "bad metadata")
        return None
    return Index(meta, arrays)


def is_current(index: Index, expected: dict) -> bool:
    """True when every key of ``expected`` (schema, fingerprints, config) matches exactly and
    every model id it names matches (the cache may record a model the caller did not ask for)."""
    meta = index.meta
    models = meta.get("models") if isinstance(meta.get("models"), dict) else {}
    return (all(meta.get(k) == v for k, v in expected.items() if k != "models")
            and all(models.get(k) == v for k, v in expected.get("models", {}).items()))
