"""Where a library lives and which store holds it.

A library is a folder of recordings with a ``.clipcut/`` folder at its top, found from any
recording or subfolder below it the way git finds its repository. ``.clipcut/library.json``
records its id, its backend (LanceDB inside ``.clipcut/lance``, or a Milvus URI) and which
text model and trained adapter its vectors fit; ``.clipcut/write.lock`` serializes writers.
The sidecar caches stay the source of truth: everything here can be rebuilt from them.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from .. import tempfiles
from ..errors import ClipcutError
from .store import Store

log = logging.getLogger(__name__)

DIRNAME = ".clipcut"
META = "library.json"
VERSION = 2  # 2: tables for recordings in other languages (their own vector space)
ENV_URI = "CLIPCUT_LIBRARY"


class LibraryError(ClipcutError):
    """A library cannot be opened, written or trusted."""


@dataclass(frozen=True)
class Library:
    root: Path           # the folder of recordings (absolute)
    id: str
    backend: str         # "lancedb" | "milvus"
    uri: str             # the Milvus URI ('' for LanceDB)
    fit: dict            # {"text_model", "adapter", "dim"}: what its vectors fit

    @property
    def folder(self) -> Path:
        return self.root / DIRNAME

    def relative(self, video: Path) -> str:
        """The recording's path inside the library, '/'-separated."""
        return Path(os.path.abspath(video)).relative_to(self.root).as_posix()

    def writable(self) -> bool:
        return writable(self.root)

    def open_store(self, write: bool = False) -> Store:
        """The backend's store; ``write`` for a writer (who holds the write lock)."""
        if self.backend == "milvus":
            from .milvus import MilvusStore

            return MilvusStore(self.uri, self.fit["dim"], self.id)
        from .lance import LanceStore

        try:
            return LanceStore(self.folder / "lance", self.fit["dim"], write)
        except (OSError, ValueError, RuntimeError) as exc:
            raise LibraryError(f"damaged library ({exc.__class__.__name__}); run `clipcut "
                               "library sync` to rebuild it from the caches",
                               path=self.folder) from None

    def save(self) -> None:
        """Write library.json atomically."""
        data = {"version": VERSION, "id": self.id, "backend": self.backend, "uri": self.uri,
                "fit": self.fit}
        tmp = self.folder / f".{META}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.folder / META)

    def wipe(self) -> None:
        """Remove the embedded store's files (the caller holds the write lock)."""
        if self.backend == "lancedb":
            shutil.rmtree(self.folder / "lance", ignore_errors=True)


def writable(root: Path) -> bool:
    folder = Path(root) / DIRNAME
    return os.access(folder if folder.exists() else root, os.W_OK | os.X_OK)


@contextlib.contextmanager
def writing(root: Path):
    """Hold the write lock of the library at ``root``, creating its folder: writers wait for
    each other; readers never lock."""
    folder = Path(root) / DIRNAME
    if not writable(root):
        raise LibraryError("library folder is not writable; queries still work, but indexing "
                           "into it needs write access", path=folder)
    folder.mkdir(exist_ok=True)
    with tempfiles.exclusive(folder / "write.lock"):
        yield


def backend_of(uri: str) -> str:
    """'milvus' for an http(s) URI or a Milvus Lite .db file; '' means the default."""
    if not uri:
        return "lancedb"
    if uri.startswith(("http://", "https://", "tcp://", "unix:")) or uri.endswith(".db"):
        return "milvus"
    raise LibraryError(f"unknown library URI {uri!r}: give an http(s)://host:port Milvus "
                       "address or a Milvus Lite file ending in .db")


def find_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that holds a ``.clipcut/`` library folder."""
    path = Path(os.path.abspath(path))
    start = path if path.is_dir() else path.parent
    for folder in [start, *start.parents]:
        if (folder / DIRNAME).is_dir():
            return folder
    return None


def _read(root: Path) -> dict | None:
    try:
        data = json.loads((root / DIRNAME / META).read_text())
    except (OSError, ValueError):
        return None
    ok = (isinstance(data, dict) and data.get("version") == VERSION
          and isinstance(data.get("fit"), dict) and data.get("backend") in ("lancedb", "milvus"))
    return data if ok else None


def _older(root: Path) -> bool:
    try:
        version = json.loads((root / DIRNAME / META).read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(version, int) and version < VERSION


def load(root: Path, fit: dict, uri: str | None = None) -> tuple[Library, bool]:
    """The library at ``root`` and whether its stored state must be rebuilt (no library.json
    yet, an unreadable one, or another backend asked for). ``uri`` None keeps the recorded
    backend (else ``$CLIPCUT_LIBRARY``); '' asks for LanceDB."""
    root = Path(os.path.abspath(root))
    data = _read(root)
    if uri is None:
        uri = os.environ.get(ENV_URI) if os.environ.get(ENV_URI) is not None else \
            (data or {}).get("uri", "")
    backend = backend_of(uri)
    if backend == "milvus" and "://" not in uri and not uri.startswith("unix:"):
        uri = os.path.abspath(uri)  # a Milvus Lite file: the same one from any directory
    if data is None:
        if (root / DIRNAME / META).exists():
            log.warning("%s: %s; rebuilding the library from the caches", root / DIRNAME,
                        "library of an older clipcut" if _older(root) else
                        "unreadable library.json")
        return Library(root, uuid.uuid4().hex[:12], backend, uri, fit), True
    lib = Library(root, data["id"], data["backend"], data.get("uri", ""), data["fit"])
    if (backend, uri) != (lib.backend, lib.uri):
        return replace(lib, backend=backend, uri=uri, fit=fit), True
    return lib, False


def fit_problem(lib: Library, fit: dict) -> str | None:
    """Why the library's vectors do not fit the current text model and adapter, or None."""
    if lib.fit.get("text_model") != fit["text_model"] or lib.fit.get("dim") != fit["dim"]:
        return (f"was built with text model {lib.fit.get('text_model')}, not "
                f"{fit['text_model']}")
    if lib.fit.get("adapter") != fit["adapter"]:
        return "was built for other query encoder weights"
    return None
