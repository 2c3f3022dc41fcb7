"""Stage 1 over a whole library: one nearest-neighbour search over the windows and sentences
of every recording, then the caches of the few recordings that hold the best candidates.

Recordings in other languages have their own tables (another vector space): the query is
embedded by the multilingual encoder for them and their best candidates are looked up there.
Stage 2 (span scoring, snapping, NMS, de-duplication) is the single-recording pipeline run
on those caches, so a library answers as well as a folder scan of every cache would, at the
cost of a handful of cache loads instead of all of them.
"""
from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import cache
from ..errors import ClipcutError
from ..index.pipeline import find_current
from .catalog import Library
from .store import SPACES, Hit, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Which recordings a library query may return."""

    glob: str = ""           # --in: recordings whose path relative to the library matches
    since: float | None = None  # --since / --until: creation time bounds (Unix seconds)
    until: float | None = None
    under: str = ""          # a subfolder of the library the query was pointed at

    @property
    def active(self) -> bool:
        return bool(self.glob or self.under) or self.since is not None or self.until is not None


def parse_date(text: str, option: str, end: bool = False) -> float:
    """Unix seconds of an ISO date or date-time (a bare date is its whole day: 00:00 for
    --since, the end of the day for --until; local time unless a zone is given)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClipcutError(f"{option} {text!r} is not a date; use YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    t = when.timestamp()
    if end and len(text.strip()) <= 10:
        t += 86400 - 1e-3
    return t


def matches(path: str, created: float, f: Filters) -> bool:
    if f.under and not (path == f.under or path.startswith(f.under.rstrip("/") + "/")):
        return False
    if f.glob and not (fnmatch.fnmatchcase(path, f.glob)
                       or fnmatch.fnmatchcase(Path(path).name, f.glob)):
        return False
    if f.since is not None and created < f.since:
        return False
    if f.until is not None and created > f.until:
        return False
    return True


def allowed(store: Store, f: Filters) -> list[str] | None:
    """Paths the filters let through (None: no filter)."""
    if not f.active:
        return None
    return sorted(p for p, r in store.recordings().items() if matches(p, r.created, f))


def candidates(store: Store, vector, k: int, paths: list[str] | None, exact: bool,
               space: str = "minilm") -> list[Hit]:
    """The best window and sentence rows of one text space (``SPACES``), best first."""
    windows, sentences = SPACES[space]
    hits = store.search(windows, vector, k, paths, exact)
    hits += store.search(sentences, vector, k, paths, exact)
    return sorted(hits, key=lambda h: -h.score)


def load_current(lib: Library, hits: list[Hit], limit: int) -> list[cache.Index]:
    """The caches of the first ``limit`` recordings named by ``hits`` (best first) whose
    current cache is the generation the rows came from; rows of any other generation (a
    recording re-indexed or changed since the library was written) are never used."""
    out: list[cache.Index] = []
    tried: set[str] = set()
    for h in hits:
        if len(out) == limit:
            break
        if h.path in tried:
            continue
        tried.add(h.path)
        video = lib.root / h.path
        idx = _current(video, h.generation)
        if idx is None:
            log.info("%s: library rows are out of date; run `clipcut index %s`", video, lib.root)
            continue
        out.append(idx)
    return out


def _current(video: Path, generation: str) -> cache.Index | None:
    if not video.is_file():
        return None
    hit = find_current(video, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
    if hit is None or hit[0].meta.get("generation") != generation:
        return None
    return hit[0]
