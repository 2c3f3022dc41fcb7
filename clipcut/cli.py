"""The `clipcut` command: parses, calls the library, prints. Results go to stdout; progress,
warnings and errors to stderr. Exit codes follow grep: 0 found, 1 no match, 2 error."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import click
import typer

from .types import clock

try:  # newer typer releases carry their own copy of click
    from typer._click.exceptions import UsageError as _TyperUsageError
except ImportError:  # pragma: no cover
    _TyperUsageError = click.exceptions.UsageError

USAGE_ERRORS = (_TyperUsageError, click.exceptions.UsageError)
ABORTS = (typer.Abort, click.exceptions.Abort, KeyboardInterrupt)


class Terminated(BaseException):
    """SIGTERM (a cron timeout, `kill`): unwinds like Ctrl-C, so temporary files are removed,
    ffmpeg and worker processes are stopped, and nothing partial is left under a final name."""


def _terminate(signum, frame):
    raise Terminated

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Pull the moments that answer a query out of long recordings.")
log = logging.getLogger("clipcut")


class ReelOrder(str, Enum):
    rank = "rank"
    time = "time"


class Asr(str, Enum):
    faster_whisper = "faster-whisper"
    openai_whisper = "openai-whisper"


def _floors(opt, languages) -> str:
    """The confidence floor(s) in force for the searched recordings' languages, for the "no
    match" line."""
    a, b = opt.min_confidence, opt.min_confidence_other
    other = {lang for lang in languages if lang and lang != "en"}
    if not other or a == b:
        return f"{a:g}"
    return f"{b:g}" if len(other) == len(set(languages)) else \
        f"{a:g}, {b:g} for recordings in other languages"


def _setup_logging(quiet: bool, verbose: bool) -> None:
    from .errors import setup_logging

    setup_logging(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _reporter(quiet: bool, label: str):
    """Rich progress bars on stderr when it is a terminal; silent otherwise."""
    from .index.pipeline import Reporter

    if quiet or not sys.stderr.isatty():
        return Reporter()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    class RichReporter(Reporter):
        def __init__(self):
            self.progress = Progress(TextColumn(f"{label} [bold]{{task.description}}"), BarColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                     console=_stderr_console(), transient=True)
            self.task = None

        def start(self, stage, total=None):
            if self.task is None:
                self.progress.start()
            else:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task(stage, total=total)

        def update(self, done):
            if self.task is not None:
                self.progress.update(self.task, completed=done)

        def finish(self):
            if self.task is not None:
                self.progress.update(self.task, completed=self.progress.tasks[-1].total or 1,
                                     total=self.progress.tasks[-1].total or 1)

        def close(self):
            self.progress.stop()

    return RichReporter()


def _request(captions, asr, asr_model, text_model, visual_model, visual_weights, force=False):
    from .index.pipeline import IndexRequest

    return IndexRequest(captions=str(captions or ""), asr=asr.value if asr else "",
                        asr_model=str(asr_model or ""), text_model=str(text_model or ""),
                        visual_model=visual_model or "", visual_weights=str(visual_weights or ""),
                        force=force)


# Options shared by both commands
CaptionsOpt = typer.Option(None, "--captions", help="Caption file (.vtt/.srt) to use instead of ASR.")
AsrOpt = typer.Option(None, "--asr", help="ASR backend (default from config: faster-whisper).")
AsrModelOpt = typer.Option(None, "--asr-model", help="ASR model: a CTranslate2 folder, an openai-whisper .pt file, `base` (the packaged multilingual Whisper base, the default) or `tiny.en` (the packaged English-only Whisper tiny.en: faster, less accurate).")
TextModelOpt = typer.Option(None, "--text-model", help="Local sentence-transformers model folder.")
VisualModelOpt = typer.Option(None, "--visual-model", help="open_clip architecture (default ViT-B-32).")
VisualWeightsOpt = typer.Option(None, "--visual-weights", help="Local open_clip checkpoint file; without one the visual modality is off.")
LanguageOpt = typer.Option(None, "--language", help="Spoken language (ISO 639-1: en, es, de, ...); default: identified from the speech or the captions.")
ConfigOpt = typer.Option(None, "--config", help="TOML file overriding configs/default.toml.")
LibraryOpt = typer.Option(None, "--library", help="Library store: a Milvus URI (http(s)://host:port, or a Milvus Lite .db file); default: LanceDB inside the folder's .clipcut/ (or $CLIPCUT_LIBRARY).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Only errors on stderr.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="More detail on stderr.")


@app.command()
def index(paths: List[Path] = typer.Argument(..., metavar="PATHS...", help="Recordings or folders (searched recursively)."),
          captions: Optional[Path] = CaptionsOpt, asr: Optional[Asr] = AsrOpt,
          asr_model: Optional[Path] = AsrModelOpt, text_model: Optional[Path] = TextModelOpt,
          visual_model: Optional[str] = VisualModelOpt, visual_weights: Optional[Path] = VisualWeightsOpt,
          language: Optional[str] = LanguageOpt,
          force: bool = typer.Option(False, "--force", help="Rebuild caches even when current."),
          workers: int = typer.Option(1, "--workers", "-j", min=1,
                                      help="Recordings indexed at once, each on cores/N threads."),
          cluster: Optional[str] = typer.Option(None, "--cluster", help="Dask scheduler address (tcp://host:8786): index on its workers."),
          library: Optional[str] = LibraryOpt,
          config: Optional[Path] = ConfigOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """Build the cache beside each recording (skips recordings whose cache is current), and
    the library of each folder given (or the library a recording lies in)."""
    _setup_logging(quiet, verbose)
    from .config import load_config
    from .errors import ClipcutError
    from .index.batch import index_many, index_one, unique
    from .index.pipeline import media_files

    from .index import language as lang_id

    cfg = _with_language(load_config(config), language)
    files = unique(media_files(paths))
    if captions and len(files) != 1:
        raise ClipcutError("--captions applies to a single recording; pass one file")
    if not files:
        raise ClipcutError("no media files found; pass recordings or folders that hold them")
    req = _request(captions, asr, asr_model, text_model, visual_model, visual_weights, force)
    counts = {"indexed": 0, "skipped": 0, "failed": 0}

    def outcomes():
        if cluster:
            from .library.cluster import index_on_cluster

            yield from index_on_cluster(files, cfg, req, cluster)
            return
        if workers > 1 and len(files) > 1:
            yield from index_many(files, cfg, req, workers)
            return
        for f in files:
            rep = _reporter(quiet, f.name)
            try:
                yield index_one(f, cfg, req, rep)
            finally:
                getattr(rep, "close", lambda: None)()

    for out in outcomes():
        if out.error:
            if len(files) == 1:
                raise ClipcutError(out.error)
            counts["failed"] += 1
            log.error("%s", out.error)
        elif out.built:
            counts["indexed"] += 1
            log.info("%s: indexed in %.1f s (%s) -> %s", out.path, out.seconds,
                     out.language, out.cache_path)
            if out.language not in ("", "en") and not quiet:
                print(f"clipcut: {out.path}: speech in {lang_id.name_of(out.language)} "
                      f"({out.language}); transcribed and searched with the multilingual "
                      "models", file=sys.stderr)
        else:
            counts["skipped"] += 1
            log.info("%s: cache is current (%s)", out.path, out.cache_path)
    if (sum(counts.values()) > 1 or verbose) and not quiet:
        print(f"clipcut: {counts['indexed']} indexed, {counts['skipped']} up to date, "
              f"{counts['failed']} failed", file=sys.stderr)
    synced = _update_libraries(paths, files, cfg, req, library, quiet)
    raise typer.Exit(2 if counts["failed"] or not synced else 0)


def _with_language(cfg, language: str | None):
    """``cfg`` with ``--language`` in ``[asr] language`` when it is given."""
    return cfg.with_section("asr", language=language.strip().lower()) if language else cfg


def _update_libraries(paths, files, cfg, req, uri, quiet) -> bool:
    """Create or update the library of each folder given, and add single recordings to the
    library they lie in. False when a library could not be written (the error is printed)."""
    from .api import sync_library
    from .errors import ClipcutError
    from .library.catalog import find_root, writable

    jobs: dict[Path, list | None] = {}
    for p in paths:
        if not p.is_dir():
            continue
        root = find_root(p)
        if root is None and not writable(p):
            log.warning("%s: folder is read-only: no library made (queries search its caches "
                        "one by one)", p)
            continue
        jobs[root or Path(os.path.abspath(p))] = None
    for f in files:
        root = find_root(f)
        if root is not None and jobs.get(root, []) is not None:
            jobs.setdefault(root, []).append(f)
    ok = True
    for root, only in jobs.items():
        try:
            rep = sync_library(root, cfg, req, files=only, uri=uri)
        except ClipcutError as exc:
            if os.environ.get("CLIPCUT_DEBUG"):
                raise
            print(f"clipcut: error: {exc}", file=sys.stderr)
            ok = False
            continue
        changed = rep.added or rep.updated or rep.removed
        if not quiet and (changed or only is None):
            print(f"clipcut: library {root}: {len(rep.added)} added, {len(rep.updated)} updated, "
                  f"{len(rep.removed)} removed, {rep.unchanged} unchanged"
                  + (f", {len(rep.not_indexed)} not indexed" if rep.not_indexed else ""),
                  file=sys.stderr)
    return ok


def _json(result, target: Path) -> str:
    clips = [{"rank": c.rank, "video": c.video, "start": round(c.start, 3), "end": round(c.end, 3),
              "score": round(c.score, 4),
              "confidence": None if c.confidence is None else round(c.confidence, 4),
              "weak": c.weak, "file": c.file, "text": c.text, "speakers": c.speakers,
              "turns": c.turns, "evidence": c.evidence,
              "modality": {k: round(v, 4) for k, v in sorted(c.modality.items())}}
             for c in result.clips]
    for c, row in zip(result.clips, clips):
        row["language"] = result.languages.get(c.video, "")
    top = {"language": result.languages.get(str(target), "")} if not target.is_dir() else {}
    return json.dumps({"video": str(target), "query": result.query, **top,
                       "status": "ok" if result.found else "no_match", "clips": clips},
                      ensure_ascii=False, indent=2)


def _table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    many = len(set(c.video for c in result.clips)) > 1
    table = Table(title=f"{len(result.clips)} clips for \u201c{result.query}\u201d", title_justify="left")
    table.add_column("#", justify="right")
    if many:
        table.add_column("recording")
    for name in ("start", "end", "len"):
        table.add_column(name, justify="right")
    table.add_column("conf", justify="right")
    who = any(c.speakers for c in result.clips)
    if who:
        table.add_column("who")
    table.add_column("text", overflow="fold", ratio=1)
    table.add_column("matched", overflow="fold")
    table.add_column("file")
    for c in result.clips:
        text = c.text if len(c.text) <= 160 else c.text[:157] + "..."
        conf = f"{c.confidence:.2f}" if c.confidence is not None else f"{c.score:.3f}"
        row = [str(c.rank)] + ([Path(c.video).name] if many else [])
        row += [clock(c.start), clock(c.end), f"{c.end - c.start:.1f}s",
                conf + (" weak" if c.weak else "")] + ([",".join(c.speakers) or "-"] if who else [])
        row += [text,
                " ".join(c.evidence.get("words", [])) or "-",
                Path(c.file).name if c.file else "-"]
        table.add_row(*row, style="dim" if c.weak else None)
    Console(soft_wrap=False).print(table)


@app.command()
def query(target: Path = typer.Argument(..., metavar="TARGET", help="A recording, or a folder of indexed recordings."),
          text: str = typer.Argument(..., metavar="QUERY", help="What to find, e.g. \"pricing objection\"."),
          n: int = typer.Option(5, "-n", "--top", help="Number of clips."),
          out: Path = typer.Option(Path("clips"), "-o", "--out", help="Folder for the clip files."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
          no_cut: bool = typer.Option(False, "--no-cut", help="Timestamps only; write no files."),
          copy: bool = typer.Option(False, "--copy", help="Stream copy (fast, cuts on keyframes)."),
          force: bool = typer.Option(False, "--force", help="Overwrite files clipcut did not write."),
          min_len: Optional[float] = typer.Option(None, "--min-len", help="Shortest clip, s."),
          max_len: Optional[float] = typer.Option(None, "--max-len", help="Longest clip, s."),
          pad: Optional[float] = typer.Option(None, "--pad", help="Padding into surrounding pauses, s."),
          min_confidence: Optional[float] = typer.Option(None, "--min-confidence", "--threshold", help="Drop clips less likely than this to answer the query (0-1; default [query] min_confidence, 0.344, and min_confidence_other, 0.335, for recordings in other languages). No clip left: exit 1."),
          keep_weak: bool = typer.Option(False, "--all", help="Keep the clips the default leaves out (under --min-confidence; in a recording shorter than [query] short, 7.5 minutes, clips that do not stand out half as far as its best one), marked weak, up to -n; the exit code still says whether one reached the floor."),
          export: List[Path] = typer.Option([], "--export", metavar="FILE", help="Write the clips as an editor timeline: .otio, .edl (CMX 3600), .xml (Final Cut 7 / Premiere / Resolve) or .fcpxml (Final Cut Pro); repeat for several."),
          reel: Optional[Path] = typer.Option(None, "--reel", metavar="FILE.mp4", help="Join the clips into one MP4 with a chapter per clip."),
          reel_order: ReelOrder = typer.Option(ReelOrder.rank, "--reel-order", help="Reel in rank order, or in time order (by recording, then start)."),
          subs: bool = typer.Option(False, "--subs", help="Write an .srt beside each clip, timed to the clip (speaker labels when known)."),
          burn_subs: bool = typer.Option(False, "--burn-subs", help="Render the subtitles into the clips' video."),
          html: Optional[Path] = typer.Option(None, "--html", metavar="FILE.html", help="Write a results page: thumbnails, transcripts with the matched words, players."),
          speaker: Optional[str] = typer.Option(None, "--speaker", help="Only clips in which this speaker talks (S1, S2, ... as the index numbered them, or a name from the captions)."),
          in_glob: Optional[str] = typer.Option(None, "--in", help="Folder or library: only recordings whose path inside it matches this glob."),
          since: Optional[str] = typer.Option(None, "--since", help="Folder or library: only recordings created on or after this date (YYYY-MM-DD)."),
          until: Optional[str] = typer.Option(None, "--until", help="Folder or library: only recordings created on or before this date."),
          library: Optional[str] = LibraryOpt,
          captions: Optional[Path] = CaptionsOpt, asr: Optional[Asr] = AsrOpt,
          asr_model: Optional[Path] = AsrModelOpt, text_model: Optional[Path] = TextModelOpt,
          visual_model: Optional[str] = VisualModelOpt, visual_weights: Optional[Path] = VisualWeightsOpt,
          language: Optional[str] = LanguageOpt,
          config: Optional[Path] = ConfigOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """Find the clips of TARGET that answer QUERY, print them and cut them into -o."""
    _setup_logging(quiet, verbose)
    from dataclasses import replace

    from .api import search
    from .config import load_config
    from .export import ExportRequest, deliver, validate

    ex = ExportRequest(tuple(export), reel, reel_order.value, subs, burn_subs, html)
    validate(ex, no_cut)
    cfg = load_config(config)
    changes = {k: v for k, v in {"min_len": min_len, "max_len": max_len, "pad": pad,
                                 "min_confidence": min_confidence,
                                 "min_confidence_other": min_confidence}.items() if v is not None}
    if changes:
        cfg = cfg.with_section("query", **changes)
    cfg = _with_language(cfg, language)
    if copy:
        cfg = replace(cfg, cut=replace(cfg.cut, reencode=False))
    from .library import lance
    from .library.search import Filters, parse_date

    lance.QUICK_IMPORT = True
    filters = Filters(in_glob or "", parse_date(since, "--since") if since else None,
                      parse_date(until, "--until", end=True) if until else None)
    req = _request(captions, asr, asr_model, text_model, visual_model, visual_weights)
    rep = _reporter(quiet, target.name)
    try:
        result = search(target, text, cfg, n, req, rep, filters, library, keep_weak,
                        speaker or "")
    finally:
        getattr(rep, "close", lambda: None)()
    log.info("query %r: k=%d tokens=%s weights=%s%s", result.semantic, result.k,
             " ".join(result.tokens), result.weights,
             f" time={result.time_phrase!r}" if result.time_phrase else "")
    wanted = ex if result.found else ExportRequest()  # no match: no timeline, reel or page
    if result.clips and (wanted.outputs or not no_cut):
        result.clips = deliver(result.clips, result.has_video, wanted, out, cfg.cut, no_cut,
                               force, result.query)
    if as_json:
        print(_json(result, target))
    elif result.clips:
        _table(result)
    if not result.found:
        if as_json or result.clips:
            print("clipcut: No matching segments found" + (
                f" (no clip reaches --min-confidence {_floors(cfg.query, result.languages.values())})"
                if result.clips else ""), file=sys.stderr)
        else:
            print("No matching segments found")
        raise typer.Exit(1)
    raise typer.Exit(0)


library_app = typer.Typer(no_args_is_help=True, help="The library a folder of recordings forms.")
app.add_typer(library_app, name="library")


def _library_root(path: Path) -> Path:
    from .errors import ClipcutError
    from .library.catalog import find_root

    if not path.exists():
        raise ClipcutError("no such file or folder; check the path", path=path)
    root = find_root(path)
    if root is None:
        raise ClipcutError("not inside a library; run `clipcut index FOLDER` to make one",
                           path=path)
    return root


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


@library_app.command("status")
def library_status(path: Path = typer.Argument(Path("."), metavar="[PATH]", help="The library folder, or a folder or recording inside it."),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
                   text_model: Optional[Path] = TextModelOpt, config: Optional[Path] = ConfigOpt,
                   quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """List every recording of the library (path, duration, state) with totals."""
    _setup_logging(quiet, verbose)
    from .config import load_config
    from .library import lance
    from .library.sync import STATES, status

    lance.QUICK_IMPORT = True
    root = _library_root(path)
    st = status(root, load_config(config), _request(None, None, None, text_model, None, None),
                path if path.is_dir() and Path(os.path.abspath(path)) != root else None)
    if as_json:
        print(json.dumps({"library": str(st.root), "backend": st.backend,
                          "recordings": [{"path": r.path, "duration": round(r.duration, 3),
                                          "state": r.state, "rows": r.rows} for r in st.recordings],
                          "totals": {"recordings": len(st.recordings), "hours": round(st.hours, 3),
                                     "rows": st.rows, "size_bytes": st.size_bytes,
                                     "out_of_date": st.out_of_date}}, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"library {st.root} ({st.backend})", title_justify="left")
        for name, right in (("recording", False), ("duration", True), ("rows", True), ("state", False)):
            table.add_column(name, justify="right" if right else "left")
        for r in st.recordings:
            hint = STATES[r.state]
            table.add_row(r.path, clock(r.duration), str(r.rows),
                          r.state + (f" ({hint})" if hint else ""))
        Console(soft_wrap=False).print(table)
        print(f"{len(st.recordings)} recordings, {st.hours:.2f} hours, "
              f"{st.rows['window']} window + {st.rows['sentence']} sentence rows, "
              f"{_size(st.size_bytes)} on disk, {st.out_of_date} out of date")
    raise typer.Exit(0)


@library_app.command("sync")
def library_sync(path: Path = typer.Argument(Path("."), metavar="[PATH]", help="The library folder, or a folder inside it."),
                 rebuild: bool = typer.Option(False, "--rebuild", help="Start over from the caches."),
                 library: Optional[str] = LibraryOpt, text_model: Optional[Path] = TextModelOpt,
                 config: Optional[Path] = ConfigOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """Add what was indexed, replace what was re-indexed, prune what was deleted or moved."""
    _setup_logging(quiet, verbose)
    from .api import sync_library
    from .config import load_config
    from .library.catalog import find_root

    if not path.is_dir():
        from .errors import ClipcutError

        raise ClipcutError("not a folder; pass the library folder", path=path)
    root = find_root(path) or Path(os.path.abspath(path))
    rep = sync_library(root, load_config(config), _request(None, None, None, text_model, None, None),
                       uri=library, rebuild=rebuild)
    if not quiet:
        print(f"clipcut: library {root}: {len(rep.added)} added, {len(rep.updated)} updated, "
              f"{len(rep.removed)} removed, {rep.unchanged} unchanged"
              + (f", {len(rep.not_indexed)} not indexed (run `clipcut index {path}`)"
                 if rep.not_indexed else ""), file=sys.stderr)
    raise typer.Exit(0)


def main() -> None:
    """Entry point: one-line errors and exit codes; CLIPCUT_DEBUG=1 shows tracebacks."""
    from .errors import ClipcutError

    debug = bool(os.environ.get("CLIPCUT_DEBUG"))
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False)   # typer turns Ctrl-C into exit code 130
    except USAGE_ERRORS as exc:
        if exc.__class__.__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            print(exc.ctx.get_help())
            sys.exit(2)
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        print(f"clipcut: error: {exc.format_message()}{hint}", file=sys.stderr)
        code = 2
    except ClipcutError as exc:
        if debug:
            raise
        print(f"clipcut: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except ABORTS:
        code = 130
    except Terminated:
        print("clipcut: terminated", file=sys.stderr)
        code = 128 + signal.SIGTERM
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if debug:
            raise
        print(f"clipcut: internal error: {exc.__class__.__name__}: {exc} "
              "(set CLIPCUT_DEBUG=1 for a traceback)", file=sys.stderr)
        code = 2
    if code == 130:
        print("clipcut: interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
