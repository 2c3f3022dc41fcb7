"""The library face: index_video(), search(), cut_clips()."""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from . import cache, models
from .config import Config
from .cut import cut_clips
from .errors import ClipcutError
from .index.pipeline import IndexRequest, Reporter, find_current, index_video, media_files
from .query import pipeline as qpipe
from .query import clip_text, confidence, learned, timephrase
from .query.encoder import (EncodedQuery, MultilingualQueryEncoder, QueryEncoder,
                            clip_text_vector)
from .library import catalog
from .library import search as lsearch
from .library import sync as lsync
from .library.search import Filters
from .library.store import SPACES
from .types import Clip

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000  # longer queries are cut here (the encoder reads 256 word pieces)

__all__ = ["index_video", "search", "cut_clips", "SearchResult", "IndexRequest", "Reporter"]


@dataclass
class SearchResult:
    query: str                     # as given
    semantic: str                  # the part used for matching (time phrase removed)
    time_phrase: str
    k: int                         # crisp attention's routed k
    tokens: tuple[str, ...]
    weights: dict                  # modality weights
    clips: list[Clip]
    has_video: dict[str, bool] = field(default_factory=dict)
    searched: list[str] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)  # recording -> spoken language

    @property
    def found(self) -> bool:
        """Whether a clip reached the confidence floor (weak ones are shown only on request)."""
        return any(not c.weak for c in self.clips)


def multilingual(idx: cache.Index) -> bool:
    """Whether the recording's text was embedded with the multilingual encoder."""
    return qpipe.text_space(idx) == "e5"


def _encoder(cfg: Config, text_model: str, other_language: bool = False):
    if other_language:
        return MultilingualQueryEncoder(models.load_multilingual_text_model())
    model = models.load_query_text_model(text_model)
    trained = learned.load(cfg.query.encoder_weights) if cfg.query.encoder == "trained" else None
    dim = models.embedding_dim(model)
    if trained is not None and trained.config["dim"] != dim:
        log.warning("the trained query encoder fits %s (%d-d), not this %d-d text model; using "
                    "the untrained encoder", trained.config["text_model"], trained.config["dim"],
                    dim)
        trained = None
    return QueryEncoder(model, cfg.query.crisp_k, cfg.query.crisp_mix, trained)


def _visual_query(arch: str, weights: str, text: str):
    """The query in CLIP's joint space: through the exported numpy text tower when there is
    one, else through open_clip (exporting the tower for the next query)."""
    tower = clip_text.load(arch, weights)
    if tower is not None:
        return tower.encode(text)
    model, tokenizer = models.load_open_clip(arch, weights)
    clip_text.export(model, arch, weights)
    return clip_text_vector(model, tokenizer, text)


def encode_query(query: str, indexes: list[cache.Index], cfg: Config, text_model: str = ""
                 ) -> tuple[str, timephrase.TimePrior | None, EncodedQuery]:
    """(semantic part, temporal prior, encoded query) of a query over these indexes; the
    CLIP text vector is added when one of them has visual embeddings."""
    other = bool(indexes) and all(multilingual(i) for i in indexes)
    semantic, prior, q = encode_text(query, cfg, text_model, visual_on=any(
        i.meta["modalities"].get("visual") for i in indexes), other_language=other)
    return semantic, prior, q if other else with_visual(q, indexes)


def encode_text(query: str, cfg: Config, text_model: str = "", visual_on: bool = True,
                other_language: bool = False
                ) -> tuple[str, timephrase.TimePrior | None, EncodedQuery]:
    """The query without its visual part (what a library's stage 1 needs); in the
    multilingual encoder's space with ``other_language``."""
    semantic, prior = timephrase.parse(query)
    if not semantic:
        semantic = query if prior is None else "the discussion"
    encoder = _encoder(cfg, text_model or cfg.text.model, other_language)
    return semantic, prior, encoder.encode(semantic, visual_on=visual_on)


def with_visual(q: EncodedQuery, indexes: list[cache.Index]) -> EncodedQuery:
    """``q`` with the CLIP text vector when one of ``indexes`` has visual embeddings."""
    visual = next((i for i in indexes if i.meta["modalities"].get("visual")), None)
    if visual is None:
        return q
    return replace(q, visual=_visual_query(visual.meta["visual_arch"],
                                           visual.meta["visual_weights"], q.text))


def vector_fit(cfg: Config, text_model: str = "") -> tuple[dict, Callable]:
    """What a library's vectors must fit (text model, trained adapter, size) and the function
    that turns cached segment embeddings into such vectors."""
    encoder = _encoder(cfg, text_model or cfg.text.model)
    lrn = encoder.learned
    digest = hashlib.sha256(lrn.params["text_adapter"].tobytes()).hexdigest()[:16] \
        if lrn is not None else "none"
    fit = {"text_model": models.text_model_id(text_model or cfg.text.model), "adapter": digest,
           "dim": models.embedding_dim(encoder.model)}
    return fit, (lrn.adapt_text if lrn is not None else learned.unit)


def indexed_in_folder(folder: Path, filters: Filters = Filters()
                      ) -> tuple[list[cache.Index], list[Path]]:
    """(loaded caches, media files without a usable cache) in a folder, recursively, of the
    recordings the filters let through."""
    found, missing = [], []
    for video in media_files([folder]):
        hit = find_current(video, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
        if hit is None:
            missing.append(video)
            continue
        created = float(hit[0].meta.get("created") or 0.0) or video.stat().st_mtime
        if lsearch.matches(video.relative_to(folder).as_posix(), created, filters):
            found.append(hit[0])
    return found, missing


def _check_query(query: str, n: int) -> str:
    query = " ".join(query.split())
    if not query:
        raise ClipcutError("the query is empty; say what to look for, e.g. \"pricing objection\"")
    if len(query) > MAX_QUERY_CHARS:
        log.warning("query is %d characters long; only the first %d are used", len(query),
                    MAX_QUERY_CHARS)
        query = query[:MAX_QUERY_CHARS]
    if n < 1:
        raise ClipcutError("-n must be at least 1")
    return query


def search(target: str | Path, query: str, cfg: Config, n: int = 5,
           req: IndexRequest = IndexRequest(), reporter: Reporter | None = None,
           filters: Filters = Filters(), library: str | None = None,
           keep_weak: bool = False, speaker: str = "") -> SearchResult:
    """Rank clips of one recording (indexed first when needed), of a library (a folder with a
    ``.clipcut/`` library at or above it: one nearest-neighbour search, then stage 2 on the
    recordings holding the best candidates), or of every indexed recording in a folder.
    ``library`` is a Milvus URI (None: the library's own backend, or $CLIPCUT_LIBRARY).
    Clips under ``cfg.query.min_confidence`` are dropped, or kept and marked with
    ``keep_weak``; with ``speaker``, only clips in which that speaker talks are kept."""
    query = _check_query(query, n)
    target = Path(target)
    if target.is_dir():
        # modality weights for every modality: each recording renormalizes over what it has
        semantic, prior, q = encode_text(query, cfg, req.text_model)
        root = catalog.find_root(target)
        indexes = _library_candidates(root, target, query, q.vector, cfg, req, filters,
                                      library) if root is not None else None
        if indexes is None:
            indexes, missing = indexed_in_folder(target, filters)
            if missing:
                log.warning("%s: %d recording(s) not indexed yet are skipped; run "
                            "`clipcut index %s`", target, len(missing), target)
            if not indexes and (missing or not filters.active):
                raise ClipcutError("no indexed recordings in this folder; run `clipcut index "
                                   "FOLDER` first", path=target)
        q = with_visual(q, indexes)
        per_recording = cfg.library.per_recording if root is not None else None
    else:
        if filters.active:
            raise ClipcutError("--in, --since and --until choose recordings of a folder or "
                               "library; pass a folder")
        indexes = [index_video(target, cfg, req, reporter).index]
        semantic, prior, q = encode_query(query, indexes, cfg, req.text_model)
        per_recording = None

    if speaker and not target.is_dir():
        _check_speaker(speaker, indexes[0])
    # each recording is ranked with the query in its own text space
    spaces = {q.space: q}
    ranked = []
    for idx in indexes:
        space = "e5" if multilingual(idx) else "minilm"
        if space not in spaces:
            spaces[space] = encode_text(query, cfg, req.text_model, other_language=True)[2]
        ranked.extend(qpipe.rank_spans(idx, spaces[space], cfg.query, prior, per_recording,
                                       alone=len(indexes) == 1))
    calibrator = confidence.load(cfg.query.confidence_weights)
    if any(multilingual(i) for i in indexes):  # calibrated in the multilingual space
        calibrator = {"minilm": calibrator,
                      "e5": confidence.load(str(confidence.PACKAGED_MULTILINGUAL)),
                      "e5-short": confidence.load(str(confidence.PACKAGED_MULTILINGUAL_SHORT))}
    clips = qpipe.select_clips(ranked, cfg.query, n, calibrator, keep_weak, speaker)
    return SearchResult(query, semantic, prior.phrase if prior else "", q.k, q.tokens, q.weights,
                        clips, {i.meta["video"]: bool(i.meta["has_video"]) for i in indexes},
                        [i.meta["video"] for i in indexes],
                        {i.meta["video"]: i.meta.get("language", "en") for i in indexes})


def _check_speaker(speaker: str, idx: cache.Index) -> None:
    """A one-line error when the recording has no speaker of that name."""
    known = sorted({s for s in idx.sent_speaker.tolist() if s})
    if not known:
        raise ClipcutError("--speaker: no speaker turns in the index (diarization is off or "
                           "found no speech); set [speakers] enabled = true and run "
                           "`clipcut index` (it adds the turns)")
    if speaker.casefold() not in {k.casefold() for k in known}:
        shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
        raise ClipcutError(f"--speaker {speaker}: no such speaker here (speakers: {shown})")


def _library_candidates(root: Path, target: Path, query: str, vector, cfg: Config,
                        req: IndexRequest, filters: Filters, uri: str | None
                        ) -> list[cache.Index] | None:
    """Stage 1 over the library at ``root``: the caches of the recordings holding the best
    candidates, up to ``[library] recordings`` of each text space (None: the library cannot
    be used and was not rebuilt; scan the folder)."""
    fit, _ = vector_fit(cfg, req.text_model)
    lib, fresh = catalog.load(root, fit, uri)
    problem = None if fresh else catalog.fit_problem(lib, fit)
    if problem:
        raise catalog.LibraryError(f"library {problem}; run `clipcut index {root}` to rebuild "
                                   "it", path=root)
    rel = Path(os.path.abspath(target)).relative_to(root).as_posix()
    filters = replace(filters, under="" if rel == "." else rel)
    for attempt in (0, 1):
        if fresh or attempt:
            if not lib.writable():
                log.warning("%s: library is damaged or incomplete and read-only; searching "
                            "the caches one by one", root)
                return None
            sync_library(root, cfg, req, uri=uri, rebuild=bool(attempt))
            lib, fresh = catalog.load(root, fit, uri)
        try:
            hits = _stage1(lib, query, vector, cfg, req, filters)
            break
        except Exception as exc:  # the engine's own errors for missing or damaged files
            if isinstance(exc, ClipcutError) and not isinstance(exc, catalog.LibraryError):
                raise
            if attempt or lib.backend != "lancedb":
                raise catalog.LibraryError(f"cannot read the library ({exc}); run `clipcut "
                                           f"library sync {root}`", path=root) from None
            log.warning("%s: library is damaged (%s); rebuilding it from the caches", root,
                        exc.__class__.__name__)
    indexes = [idx for space_hits in hits
               for idx in lsearch.load_current(lib, space_hits, cfg.library.recordings)]
    for idx in indexes:  # name recordings as the user named the library
        idx.meta["video"] = str(target / Path(idx.meta["video"]).relative_to(
            Path(os.path.abspath(target))))
    return indexes


def sync_library(root: Path, cfg: Config, req: IndexRequest = IndexRequest(),
                 files: list[Path] | None = None, uri: str | None = None,
                 rebuild: bool = False) -> lsync.SyncReport:
    """Create or update the library at ``root`` from its recordings' current caches (only
    ``files`` when given). ``rebuild`` starts it over from the caches."""
    fit, adapt = vector_fit(cfg, req.text_model)
    return lsync.sync(root, fit, adapt, cfg, req, files, uri, rebuild)


def _stage1(lib: catalog.Library, query: str, vector, cfg: Config, req: IndexRequest,
            filters: Filters) -> list[list]:
    """The best candidates of each text space the library holds recordings of (the query
    embedded by the multilingual encoder for recordings in other languages)."""
    store = lib.open_store()
    try:
        paths = lsearch.allowed(store, filters)
        k, exact = cfg.library.candidates, cfg.library.exact
        out = [lsearch.candidates(store, vector, k, paths, exact)]
        if store.rows(SPACES["e5"][0]):  # the library holds recordings in other languages
            e5 = encode_text(query, cfg, req.text_model, other_language=True)[2].vector
            out.append(lsearch.candidates(store, e5, k, paths, exact, space="e5"))
        return out
    finally:
        store.close()
