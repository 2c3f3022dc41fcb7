"""Files clipcut writes besides clips (timelines, subtitles, reels, pages, thumbnails): written
under a temporary name and renamed, and remembered in the folder's ``.clipcut-written`` list
(name -> SHA-256 of what was written) so that a later run overwrites them but never a file
clipcut did not write, or one that was edited since, unless forced."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from .. import tempfiles
from ..errors import ExportError

MANIFEST = ".clipcut-written"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def written_by_clipcut(path: Path) -> bool:
    """True when ``path`` holds exactly what clipcut last wrote there."""
    entry = _read(path.parent).get(path.name)
    try:
        return entry is not None and entry == _digest(path)
    except OSError:
        return False


def check(paths: list[Path], force: bool) -> None:
    """Refuse (before anything is written) targets that exist and that clipcut did not write,
    and targets whose folder cannot be made or written."""
    refused = [p for p in paths if (p.exists() or p.is_symlink()) and not force
               and not (p.is_file() and written_by_clipcut(p))]
    if refused:
        raise ExportError(f"exists and was not written by clipcut ({len(refused)} such "
                          "file(s)); use --force or another name", path=refused[0])
    for folder in dict.fromkeys(p.parent for p in paths):
        make_folder(folder)
        if not os.access(folder, os.W_OK):
            raise ExportError("folder cannot be written; pick another place", path=folder)


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents); a one-line ExportError when it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create folder ({exc.strerror}); pick another place",
                          path=folder) from None


def remember(path: Path) -> None:
    """Record ``path`` (already in place) as written by clipcut."""
    folder = path.parent
    with tempfiles.exclusive(folder / (MANIFEST + ".lock")):
        data = _read(folder)
        data[path.name] = _digest(path)
        fd, tmp = tempfiles.create(folder / MANIFEST, ".part")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=0, sort_keys=True)
        os.replace(tmp, folder / MANIFEST)


@contextlib.contextmanager
def atomic(path: Path):
    """Yields a temporary path beside ``path``; on success it is renamed to ``path`` and
    remembered, on any failure (or Ctrl-C) removed."""
    try:
        fd, tmp = tempfiles.create(path, ".part")
    except OSError as exc:
        raise ExportError(f"cannot write ({exc.strerror}); pick another place", path=path) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    remember(path)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically and remember it."""
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
