"""Temporary files for atomic writes. Each name carries its writer's pid, so that a later run
can tell what a killed writer left (its pid no longer runs) from a live writer's file."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def create(target: Path, suffix: str) -> tuple[int, str]:
    """(fd, name) of a new hidden file beside ``target``: ``.NAME.PID.RANDOM{suffix}``, with
    the permissions of a file the user creates (mkstemp's are private, and the rename that
    puts it in place would keep them)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                                suffix=suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, name


@contextlib.contextmanager
def exclusive(lock: Path):
    """Hold an exclusive advisory lock (flock) on the file ``lock`` (created when missing)."""
    with open(lock, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _writer_pid(tmp: Path, suffix: str) -> int | None:
    parts = tmp.name[:-len(suffix)].rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def remove_orphans(folder: Path, pattern: str, suffix: str) -> None:
    """Delete the files matching ``pattern`` in ``folder`` whose writer no longer runs; a live
    writer's file is left alone."""
    for tmp in folder.glob(pattern):
        pid = _writer_pid(tmp, suffix)
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
            log.info("%s: removed the temporary file of an interrupted run", tmp)
        except OSError:
            pass
