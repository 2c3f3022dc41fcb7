"""index_many(): index a list of recordings with N worker processes, each on cores / N threads.

Workers never index the same file at once: the list is de-duplicated, and index_video holds
a per-file lock across processes (a second `clipcut index` on the same folder waits for the
first one's cache instead of building it again).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..config import Config
from ..errors import ClipcutError, setup_logging
from .pipeline import IndexRequest, Reporter, index_video


@dataclass(frozen=True)
class Outcome:
    path: Path
    built: bool = False
    cache_path: str = ""
    seconds: float = 0.0
    error: str = ""          # the one-line message when indexing failed
    language: str = ""       # the recording's spoken language, as its cache records it


def _init(threads: int, log_level: int) -> None:
    """Runs first in each worker (spawned: no model or thread pool is inherited)."""
    setup_logging(log_level)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["CLIPCUT_THREADS"] = str(threads)


def index_one(path: Path, cfg: Config, req: IndexRequest,
              reporter: Reporter | None = None) -> Outcome:
    """Index one recording; a ClipcutError becomes the outcome's message (CLIPCUT_DEBUG=1
    lets it through with its traceback)."""
    t = time.perf_counter()
    try:
        res = index_video(path, cfg, req, reporter)
    except ClipcutError as exc:
        if os.environ.get("CLIPCUT_DEBUG"):
            raise
        return Outcome(path, error=str(exc), seconds=time.perf_counter() - t)
    return Outcome(path, res.built, str(res.cache_path), time.perf_counter() - t,
                   language=res.index.meta.get("language", ""))


def unique(files: list[Path]) -> list[Path]:
    """``files`` without repeats of the same file (by resolved path), order kept."""
    seen, out = set(), []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def index_many(files: list[Path], cfg: Config, req: IndexRequest,
               workers: int) -> Iterator[Outcome]:
    """Outcomes in completion order; a failure on one file never stops the others."""
    files = unique(files)
    workers = max(1, min(workers, len(files)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                               initargs=(threads, logging.getLogger("clipcut").getEffectiveLevel()))
    try:
        futures = [pool.submit(index_one, f, cfg, req) for f in files]
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        # interrupted, terminated or abandoned: stop the workers now instead of waiting for
        # their files (what they were writing is a temporary file the next run removes)
        procs = list((getattr(pool, "_processes", None) or {}).values())  # no public API before 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        raise
    pool.shutdown()
