"""Indexing on a Dask distributed cluster: each recording is one task that runs
``index_one`` on a worker, which writes the sidecar beside the recording (workers need the
same filesystem). Only the process that started the run writes the library, afterwards.

A task whose worker dies is rerun on another worker (Dask's own rescheduling), and a task
that raises is retried; a recording that still fails is reported like any other failure.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

from ..config import Config
from ..errors import ClipcutError
from ..index.batch import Outcome, index_one
from ..index.pipeline import IndexRequest

log = logging.getLogger(__name__)

RETRIES = 2          # reruns of a task that raised (a dead worker is handled by the scheduler)
CONNECT_TIMEOUT = 20  # s to reach the scheduler


def _task(path: str, cfg: Config, req: IndexRequest) -> Outcome:
    """What a worker runs: one recording, the worker's one-line errors kept as the outcome."""
    from ..errors import setup_logging

    setup_logging(logging.WARNING)
    return index_one(Path(path), cfg, req)


def index_on_cluster(files: list[Path], cfg: Config, req: IndexRequest,
                     address: str) -> Iterator[Outcome]:
    """Outcomes in completion order, as ``index_many`` gives them."""
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover
        raise ClipcutError("dask.distributed is not installed: `pip install distributed`") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClipcutError(f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}); "
                           "check the address and that the scheduler runs") from None
    try:
        # absolute paths: workers may run in another directory
        names = [os.path.abspath(f) for f in files]
        futures = {client.submit(_task, name, cfg, req, key=f"clipcut-index-{i}-{name}",
                                 retries=RETRIES, pure=False): Path(f)
                   for i, (name, f) in enumerate(zip(names, files))}
        for future in as_completed(futures):
            path = futures[future]
            try:
                out = future.result()
            except Exception as exc:  # killed too often, or an error outside ClipcutError
                yield Outcome(path, error=f"{path}: failed on the cluster "
                                           f"({exc.__class__.__name__}: {exc})")
                continue
            yield Outcome(path, out.built, out.cache_path, out.seconds, out.error, out.language)
    finally:
        client.close()
