"""The small store interface every library backend implements (LanceDB, Milvus).

A store holds two tables of vectors per text space, ``window`` and ``sentence`` (one row per
window or sentence of every recording: its recording's path, the cache generation it came
from, its times and its vector), ``window_e5`` and ``sentence_e5`` for recordings in other
languages (embedded with the multilingual encoder: another vector space), and a catalog of
recordings. Backends supply a few primitives; the logic above them (replacing one
recording's rows, pruning, searching) is written once here, so both engines take the same
code path.

Replacing a recording is one step for a reader: the new generation's rows are written
first, then the catalog entry, then the old generation's rows are deleted. A reader that
runs in between may see both generations; the query keeps only rows whose generation is
the recording's current cache (``library/search.py``), so it never mixes them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

# The tables of each text space ("minilm": English recordings; "e5": the multilingual encoder).
SPACES = {"minilm": ("window", "sentence"), "e5": ("window_e5", "sentence_e5")}
TABLES = SPACES["minilm"] + SPACES["e5"]
E5_DIM = 384  # multilingual-e5-small's vectors


def table_dims(dim: int) -> dict[str, int]:
    """Each table's vector size: ``dim`` (the library's text model) or the e5 one."""
    return {t: (E5_DIM if t in SPACES["e5"] else dim) for t in TABLES}


@dataclass(frozen=True)
class Recording:
    """One recording of a library, as its catalog holds it."""

    path: str            # relative to the library root, '/'-separated
    generation: str      # the cache build its rows came from
    source: str          # the recording's content hash (cache fingerprint)
    duration: float      # s
    created: float       # Unix seconds: the creation_time tag, else the file's mtime
    windows: int
    sentences: int
    space: str = "minilm"  # the text space of its rows (SPACES)

    def as_row(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> "Recording":
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Rows:
    """One recording's rows of one table."""

    start: np.ndarray    # (n,) s
    end: np.ndarray      # (n,) s
    vectors: np.ndarray  # (n, dim) float32, unit length


@dataclass(frozen=True)
class Hit:
    path: str
    generation: str
    start: float
    end: float
    score: float         # cosine similarity to the query


Entry = tuple[Recording, Rows, Rows]  # a recording with its window and sentence rows


class Store:
    """Backends implement the primitives below; everything else is shared."""

    # -- primitives (each one write of the engine) -------------------------------------------
    def insert(self, table: str, batch: list[tuple[str, str, Rows]]) -> None:
        """Add rows: (path, generation, rows) for each recording in ``batch``."""
        raise NotImplementedError

    def delete(self, table: str, keep: dict[str, str]) -> None:
        """Delete the rows of each path in ``keep`` but those of the generation it maps to
        ('' keeps none)."""
        raise NotImplementedError

    def put_recordings(self, recs: list[Recording]) -> None:
        """Insert or replace catalog entries (by path)."""
        raise NotImplementedError

    def drop_recordings(self, paths: list[str]) -> None:
        raise NotImplementedError

    def recordings(self) -> dict[str, Recording]:
        raise NotImplementedError

    def search(self, table: str, vector: np.ndarray, k: int, paths: list[str] | None = None,
               exact: bool = False) -> list[Hit]:
        """The ``k`` rows closest to ``vector`` (cosine), best first; only rows of ``paths``
        when given; ``exact`` skips the approximate index."""
        raise NotImplementedError

    def rows(self, table: str) -> int:
        raise NotImplementedError

    def size_bytes(self) -> int:
        """Bytes on disk (0 when the engine is a server that does not say)."""
        return 0

    def optimize(self, index_rows: int) -> None:
        """Build or refresh the approximate index of tables of ``index_rows`` rows or more."""

    def close(self) -> None:
        """Release the engine's resources."""

    # -- shared logic ------------------------------------------------------------------------
    def replace(self, entries: list[Entry]) -> None:
        """Put recordings' rows in place of their old ones (see the module docstring)."""
        if not entries:
            return
        for space, tables in SPACES.items():
            for i, table in enumerate(tables):
                batch = [(rec.path, rec.generation, rows[i]) for rec, *rows in entries
                         if rec.space == space]
                if batch:
                    self.insert(table, batch)
        self.put_recordings([rec for rec, _, _ in entries])
        keep = {rec.path: rec.generation for rec, _, _ in entries}
        for table in TABLES:  # all: a recording may have changed space (its language)
            self.delete(table, keep)

    def remove(self, paths: list[str]) -> None:
        """Forget recordings: their catalog entries first, so filters drop them at once."""
        if not paths:
            return
        self.drop_recordings(paths)
        for table in TABLES:
            self.delete(table, {p: "" for p in paths})


def chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
