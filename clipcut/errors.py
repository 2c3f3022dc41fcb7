"""One error type for everything a user can fix; the CLI maps it to an exit code."""
from __future__ import annotations

import logging
import os
import sys
import warnings


def setup_logging(level: int) -> None:
    """clipcut's messages on stderr as `clipcut: LEVEL: message`; other libraries' only when
    they are errors, and their Python warnings not at all (CLIPCUT_DEBUG=1 keeps them).
    Used by the CLI and by each `--workers` process."""
    if not os.environ.get("CLIPCUT_DEBUG"):
        warnings.simplefilter("ignore")
        # and in the Python processes clipcut starts (workers, multiprocessing's tracker)
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("clipcut: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR)
    logging.getLogger("clipcut").setLevel(level)
    logging.getLogger("clipcut").propagate = True


class ClipcutError(Exception):
    """A failure with a one-line, actionable message. ``exit_code`` follows grep: 2 = error."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class MediaError(ClipcutError):
    """The input is missing, unreadable or not usable media."""


class ModelError(ClipcutError):
    """A model or its weights cannot be found or loaded."""


class CacheError(ClipcutError):
    """A cache file cannot be written."""


class CutError(ClipcutError):
    """ffmpeg failed to cut a clip, or a cut would clobber a file."""


class ExportError(ClipcutError):
    """A timeline, reel, subtitle file or results page cannot be written."""
