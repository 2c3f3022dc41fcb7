"""Bring a library's rows in line with the sidecar caches, and say where it stands.

``sync`` adds recordings whose current cache is not in the library yet, replaces those whose
cache was rebuilt (a new generation), and prunes recordings that were deleted or moved.
Staleness is the cache's own rule (content fingerprints, never paths), so a library moved or
copied with its recordings stays current. What the query side applies to segment embeddings
(the trained text adapter) is applied here, once, when rows are written. Recordings in other
languages go to their own tables (``store.SPACES``), as the multilingual encoder made them.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import cache
from ..config import Config
from ..errors import ClipcutError
from ..index.pipeline import IndexRequest, is_current_for, media_files, plan
from ..query.learned import unit
from .catalog import DIRNAME, Library, LibraryError, fit_problem, load, writing
from .store import SPACES, Entry, Recording, Rows, Store

log = logging.getLogger(__name__)

BATCH = 64  # recordings written per store call (bounds memory on big syncs)

Adapt = Callable[[np.ndarray], np.ndarray]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    not_indexed: list[str] = field(default_factory=list)  # no current cache: `clipcut index`
    rebuilt: bool = False


@dataclass(frozen=True)
class Found:
    """A recording of the library folder and its current cache's metadata (None: no
    current cache)."""

    video: Path
    rel: str
    meta: dict | None
    cache_path: Path | None


def library_media(root: Path) -> list[Path]:
    """The recordings under ``root``, the library's own folder left out."""
    return [p for p in media_files([root]) if DIRNAME not in p.relative_to(root).parts[:-1]]


def current_meta(video: Path, cfg: Config, req: IndexRequest) -> tuple[dict, Path] | None:
    """The metadata of ``video``'s current cache (by the rule ``clipcut index`` applies:
    content, captions, models and config) and its path, reading no arrays."""
    try:
        p = plan(video, cfg, req)
    except ClipcutError:
        return None
    for path in cache.candidates(video):
        meta = cache.load_meta(path)
        if meta is not None and is_current_for(meta, p):
            return meta, path
    return None


def survey(lib: Library, videos: list[Path], cfg: Config, req: IndexRequest) -> list[Found]:
    out = []
    for video in videos:
        hit = current_meta(video, cfg, req)
        out.append(Found(video, lib.relative(video), hit[0] if hit else None,
                         hit[1] if hit else None))
    return out


def _rows(starts: np.ndarray, ends: np.ndarray, emb: np.ndarray, adapt: Adapt) -> Rows:
    """Rows for the segments that have an embedding (a window without speech has none)."""
    if emb.ndim != 2 or emb.shape[0] == 0 or emb.shape[1] == 0:
        return Rows(np.zeros(0), np.zeros(0), np.zeros((0, 0), np.float32))
    keep = np.linalg.norm(emb, axis=1) > 0
    vec = adapt(emb[keep]).astype(np.float32)
    return Rows(np.asarray(starts, np.float64)[keep], np.asarray(ends, np.float64)[keep], vec)


def entry(found: Found, adapt: Adapt) -> Entry | None:
    idx = cache.load(found.cache_path)
    if idx is None or idx.meta.get("generation") != found.meta.get("generation"):
        return None  # replaced since the survey; the next sync takes the new one
    space = idx.meta.get("text_encoder", "minilm")
    if space == "e5":  # the multilingual encoder's vectors, as its queries meet them
        adapt = unit
    windows = _rows(idx.windows[:, 0], idx.windows[:, 1], idx.win_text, adapt)
    sentences = _rows(idx.sent_start, idx.sent_end, idx.sent_emb, adapt)
    created = float(idx.meta.get("created") or 0.0) or found.video.stat().st_mtime
    rec = Recording(found.rel, idx.meta["generation"], idx.meta["source"]["sha256"],
                    float(idx.meta["duration"]), created, len(windows.start),
                    len(sentences.start), space)
    return rec, windows, sentences


def sync(root: Path, fit: dict, adapt: Adapt, cfg: Config, req: IndexRequest,
         files: list[Path] | None = None, uri: str | None = None,
         rebuild: bool = False) -> SyncReport:
    """Sync the library at ``root`` (created when missing) with the caches of its recordings:
    all of them, or only ``files`` (then only those of them that are gone are pruned).
    ``rebuild`` starts over from the caches (a damaged library)."""
    report = SyncReport()
    with writing(root):
        lib, fresh = load(root, fit, uri)  # under the lock: another writer may have made it
        problem = None if fresh else fit_problem(lib, fit)
        if problem:
            log.warning("%s: library %s; rebuilding it from the caches", lib.root, problem)
        elif rebuild:
            log.warning("%s: rebuilding the library from the caches", lib.root)
        if fresh or problem or rebuild:
            lib = Library(lib.root, lib.id, lib.backend, lib.uri, fit)
            report.rebuilt = True
        videos = library_media(lib.root) if files is None else \
            [Path(os.path.abspath(f)) for f in files]
        found = survey(lib, [v for v in videos if v.is_file()], cfg, req)
        if not report.rebuilt and _in_line(lib, videos, found, files is None, report):
            return report
        store = _open_for_write(lib, report)
        try:
            catalog = store.recordings()
            if report.rebuilt and catalog:
                store.remove(sorted(catalog))
                catalog = {}
            _apply(store, catalog, found, adapt, report)
            gone = _gone(lib, catalog, videos, found, files is None)
            store.remove(sorted(gone))
            report.removed = sorted(gone)
            if report.added or report.updated or report.removed:
                store.optimize(cfg.library.index_rows)
            lib.save()
        finally:
            store.close()
    return report


def _gone(lib: Library, catalog: dict, videos: list[Path], found: list[Found],
          whole: bool) -> set[str]:
    """Catalogued recordings to prune: deleted or moved, or without a current cache."""
    gone = {lib.relative(v) for v in videos if not v.is_file()}
    if whole:
        gone |= set(catalog) - {f.rel for f in found}
    gone |= {f.rel for f in found if f.meta is None}
    return gone & set(catalog)


def _in_line(lib: Library, videos: list[Path], found: list[Found], whole: bool,
             report: SyncReport) -> bool:
    """True (with ``report`` filled in) when the embedded library already matches the
    caches: read through the light read-only store, so an `index` with nothing new does not
    pay for opening the writer."""
    if lib.backend != "lancedb":
        return False
    try:
        store = lib.open_store()
        try:
            catalog = store.recordings()
        finally:
            store.close()
    except Exception:  # damaged or missing tables: the writer path repairs them
        return False
    if _gone(lib, catalog, videos, found, whole):
        return False
    for f in found:
        if f.meta is not None:
            old = catalog.get(f.rel)
            if old is None or old.generation != f.meta.get("generation"):
                return False
    report.unchanged = sum(f.meta is not None for f in found)
    report.not_indexed = [f.rel for f in found if f.meta is None]
    return True


def _open_for_write(lib: Library, report: SyncReport) -> Store:
    """The store; a damaged embedded one is wiped and rebuilt (with a warning)."""
    if report.rebuilt:
        lib.wipe()
    try:
        return lib.open_store(write=True)
    except LibraryError as exc:
        if lib.backend != "lancedb":
            raise
        log.warning("%s; rebuilding it from the caches", exc)
        lib.wipe()
        report.rebuilt = True
        return lib.open_store(write=True)


def _apply(store: Store, catalog: dict, found: list[Found], adapt: Adapt,
           report: SyncReport) -> None:
    batch: list[Entry] = []
    for f in found:
        if f.meta is None:
            report.not_indexed.append(f.rel)
            continue
        old = catalog.get(f.rel)
        if old is not None and old.generation == f.meta.get("generation"):
            report.unchanged += 1
            continue
        e = entry(f, adapt)
        if e is None:
            report.not_indexed.append(f.rel)
            continue
        (report.updated if old is not None else report.added).append(f.rel)
        batch.append(e)
        if len(batch) == BATCH:
            store.replace(batch)
            batch = []
    store.replace(batch)


@dataclass(frozen=True)
class StatusRow:
    path: str
    duration: float
    state: str   # current | not in library | not indexed | missing
    rows: int


@dataclass
class Status:
    root: Path
    backend: str
    recordings: list[StatusRow]
    rows: dict[str, int]
    size_bytes: int

    @property
    def hours(self) -> float:
        return sum(r.duration for r in self.recordings) / 3600

    @property
    def out_of_date(self) -> int:
        return sum(r.state != "current" for r in self.recordings)


STATES = {"current": "", "not in library": "run `clipcut library sync`",
          "not indexed": "run `clipcut index`", "missing": "pruned by the next sync"}


def status(root: Path, cfg: Config, req: IndexRequest, under: Path | None = None) -> Status:
    """Every recording of the library at ``root`` (or below ``under``) with its state."""
    lib, fresh = load(root, {})
    if fresh:
        raise LibraryError("library has no readable library.json; run `clipcut library sync` "
                           "to rebuild it", path=lib.folder)
    store = lib.open_store()
    try:
        catalog = store.recordings()
        # every text space together
        rows = {"window": sum(store.rows(w) for w, _ in SPACES.values()),
                "sentence": sum(store.rows(s) for _, s in SPACES.values())}
        size = store.size_bytes()
    finally:
        store.close()
    scope = Path(os.path.abspath(under)) if under is not None else lib.root
    videos = library_media(lib.root)
    videos = [v for v in videos if v == scope or scope in v.parents] if scope != lib.root else videos
    out, seen = [], set()
    for f in survey(lib, videos, cfg, req):
        seen.add(f.rel)
        old = catalog.get(f.rel)
        if f.meta is None:
            state, duration = "not indexed", (old.duration if old else 0.0)
        else:
            duration = float(f.meta.get("duration", 0.0))
            state = "current" if old and old.generation == f.meta.get("generation") \
                else "not in library"
        out.append(StatusRow(f.rel, duration, state, (old.windows + old.sentences) if old else 0))
    for rel, old in catalog.items():
        if rel not in seen and (scope == lib.root or (lib.root / rel).is_relative_to(scope)):
            out.append(StatusRow(rel, old.duration, "missing", old.windows + old.sentences))
    out.sort(key=lambda e: e.path)
    return Status(lib.root, lib.backend if not lib.uri else f"{lib.backend} {lib.uri}", out, rows,
                  size)
