"""The library face: index_video(), search(), cut_clips()."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import cache, models
from .config import Config
from .cut import cut_clips
from .errors import ClipcutError
from .index.pipeline import IndexRequest, Reporter, find_current, index_video, media_files
from .query import pipeline as qpipe
from .query import clip_text, learned, timephrase
from .query.encoder import EncodedQuery, QueryEncoder, clip_text_vector
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


def _encoder(cfg: Config, text_model: str) -> QueryEncoder:
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
    semantic, prior = timephrase.parse(query)
    if not semantic:
        semantic = query if prior is None else "the discussion"
    encoder = _encoder(cfg, text_model or cfg.text.model)
    visual = next((i for i in indexes if i.meta["modalities"].get("visual")), None)
    q = encoder.encode(semantic, visual_on=visual is not None)
    if visual is not None:
        q = replace(q, visual=_visual_query(visual.meta["visual_arch"],
                                            visual.meta["visual_weights"], semantic))
    return semantic, prior, q


def indexed_in_folder(folder: Path) -> tuple[list[cache.Index], list[Path]]:
    """(loaded caches, media files without a usable cache) in a folder, recursively."""
    found, missing = [], []
    for video in media_files([folder]):
        hit = find_current(video, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
        if hit is not None:
            found.append(hit[0])
        else:
            missing.append(video)
    return found, missing


def search(target: str | Path, query: str, cfg: Config, n: int = 5,
           req: IndexRequest = IndexRequest(), reporter: Reporter | None = None) -> SearchResult:
    """Rank clips of one recording (indexed first when needed) or of every indexed recording
    in a folder."""
    query = " ".join(query.split())
    if not query:
        raise ClipcutError("the query is empty; say what to look for, e.g. \"pricing objection\"")
    if len(query) > MAX_QUERY_CHARS:
        log.warning("query is %d characters long; only the first %d are used", len(query),
                    MAX_QUERY_CHARS)
        query = query[:MAX_QUERY_CHARS]
    if n < 1:
        raise ClipcutError("-n must be at least 1")
    target = Path(target)
    if target.is_dir():
        indexes, missing = indexed_in_folder(target)
        if missing:
            log.warning("%s: %d recording(s) not indexed yet are skipped; run `clipcut index %s`",
                        target, len(missing), target)
        if not indexes:
            raise ClipcutError("no indexed recordings in this folder; run `clipcut index FOLDER` "
                               "first", path=target)
    else:
        indexes = [index_video(target, cfg, req, reporter).index]

    semantic, prior, q = encode_query(query, indexes, cfg, req.text_model)
    ranked = []
    for idx in indexes:
        ranked.extend(qpipe.rank_spans(idx, q, cfg.query, prior))
    clips = qpipe.select_clips(ranked, cfg.query, n)
    return SearchResult(query, semantic, prior.phrase if prior else "", q.k, q.tokens, q.weights,
                        clips, {i.meta["video"]: bool(i.meta["has_video"]) for i in indexes},
                        [i.meta["video"] for i in indexes])
