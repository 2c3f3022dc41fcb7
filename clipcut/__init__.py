"""clipcut: pull the moments that answer a query out of long recordings.

    import clipcut
    cfg = clipcut.load_config()
    result = clipcut.search("talk.mp4", "pricing objection", cfg, n=5)
    clipcut.cut_clips(result.clips, "clips", result.has_video, cfg.cut)

Heavy modules (numpy, torch) load on first use, so `clipcut --help` stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {"index_video": "api", "search": "api", "cut_clips": "api", "SearchResult": "api",
         "IndexRequest": "api", "load_config": "config", "Config": "config",
         "ClipcutError": "errors", "Clip": "types"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'clipcut' has no attribute {name!r}")
