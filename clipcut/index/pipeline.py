"""index_video(): probe, decode, transcribe, embed, detect, window, cache."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__, cache, models
from ..config import Config
from ..errors import MediaError, ModelError
from ..types import Sentence, Word
from . import audio as audio_stage
from ..query import clip_text
from . import language as lang_id
from . import media, sentences, speakers, text, transcript, vad, visual, voices, windows
from .scenes import SceneCuts

log = logging.getLogger(__name__)



class Reporter:
    """Progress callbacks; the CLI passes one that draws rich progress bars on stderr."""

    def start(self, stage: str, total: float | None = None) -> None: ...

    def update(self, done: float) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class IndexRequest:
    """What to index and with which sources; model paths empty = the registry's defaults."""

    captions: str = ""          # a caption file that overrides the automatic search
    asr: str = ""               # backend override ("faster-whisper" | "openai-whisper")
    asr_model: str = ""
    text_model: str = ""
    visual_model: str = ""      # open_clip architecture override
    visual_weights: str = ""
    force: bool = False         # rebuild even if the cache is current


@dataclass
class IndexResult:
    path: Path
    cache_path: Path
    index: cache.Index
    built: bool
    timings: dict = field(default_factory=dict)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _caption_source(video: Path, info: media.MediaInfo,
                    req: IndexRequest) -> tuple[dict | str, Path | None]:
    """(source, caption file): the caption file's content fingerprint (never its path, so a
    recording copied with its captions keeps its cache), or "embedded", or "asr" ("none", set
    by ``plan``, for a video without audio indexed on its frames alone)."""
    path = Path(req.captions) if req.captions else transcript.find_captions(video)
    if req.captions and not path.is_file():
        raise MediaError("caption file not found; check --captions", path=path)
    if path is not None:
        return cache.fingerprint(path), path
    return ("embedded" if info.subtitle_streams else "asr"), None


@dataclass(frozen=True)
class Plan:
    """What indexing one recording involves, resolved once: probed streams, the transcript
    source, the visual model (weights '' = visual off) and what a current cache must hold."""

    info: media.MediaInfo
    captions: dict | str
    caption_file: Path | None
    arch: str
    weights: str
    expected: dict
    any_asr: bool = False   # no ASR model asked for: a transcript by another one is current


def plan(video: Path, cfg: Config, req: IndexRequest) -> Plan:
    """Probe the video and resolve every source and model; raises MediaError for bad input."""
    info = media.probe(video)
    captions, caption_file = _caption_source(video, info, req)
    arch = req.visual_model or cfg.visual.model
    weights = models.visual_weights(req.visual_weights or cfg.visual.weights) if info.has_video else ""
    if captions == "asr" and not info.has_audio:
        captions = "none"  # frames only: needs visual weights (index_video checks)
    if captions == "asr":
        backend = req.asr or cfg.asr.backend
        asr_id = (f"{backend}:{models.whisper_model_id(req.asr_model or cfg.asr.model)}"
                  f":{sentences.ASR_SPLIT}" + (f":{cfg.asr.language}" if cfg.asr.language else ""))
    else:
        asr_id = "none" if captions == "none" else "captions"
    expected = {
        "schema": cache.SCHEMA,
        "source": cache.fingerprint(video),
        "captions": captions,
        "models": {"transcript": asr_id,
                   "text": models.text_model_id(req.text_model or cfg.text.model),
                   # what other languages are transcribed and embedded with
                   "multilingual": f"{models.MULTILINGUAL_WHISPER_ID}+{models.MULTILINGUAL_TEXT_ID}"},
        "config": cfg.index_digest(asr=captions == "asr"),
        "speakers": speaker_key(cfg),
        "pauses": audio_stage.PAUSES,   # how pauses are measured
    }
    if info.audio_delay >= media.MIN_DELAY:
        expected["clock"] = media.CLOCK  # older caches timed such sound from its first sample
    if caption_file is not None and transcript.has_sound_notes(caption_file):
        expected["caption_notes"] = transcript.NOTES  # older caches kept "[Music]" as words
    if weights or not info.has_video:
        # Only weights asked for make a cache stale; without them, a cache built with visual
        # weights earlier stays usable (a query need not repeat --visual-weights).
        expected["models"]["visual"] = models.visual_model_id(arch, weights)
    asked = req.asr or models.asked_whisper(req.asr_model or cfg.asr.model)
    return Plan(info, captions, caption_file, arch, weights, expected, any_asr=not asked)


_SPLIT_NAME = re.compile(r":pauses\d+(?=:|$)")  # the sentence splitting a transcript id names


def _split_now(transcript_id: str) -> str:
    """``transcript_id`` naming the current sentence splitting (its words are the same)."""
    return _SPLIT_NAME.sub(f":{sentences.ASR_SPLIT}", transcript_id)


def _asr_tail(transcript_id: str) -> str | None:
    """What of an ASR transcript id follows the model (sentence splitting, language); None
    for captions."""
    i = transcript_id.find(f":{sentences.ASR_SPLIT}")
    return transcript_id[i:] if i >= 0 else None


def is_current_for(meta: dict, p: Plan) -> bool:
    """Whether a cache (its metadata) is current for this plan. As with visual weights, only
    an ASR model asked for makes a transcript stale: without one, a transcript another model
    made (same sentence splitting and language) stays, so a query need not repeat
    --asr-model."""
    expected = p.expected
    have = (meta.get("models") or {}).get("transcript", "")
    if p.any_asr and _asr_tail(have) is not None \
            and _asr_tail(have) == _asr_tail(expected["models"]["transcript"]):
        expected = {**expected, "models": {**expected["models"], "transcript": have}}
    return cache.is_current(cache.Index(meta, {}), expected)


def speaker_key(cfg: Config) -> dict:
    """What shapes a cache's speaker turns; when only this differs, only they are redone."""
    if not cfg.speakers.enabled:
        return {"enabled": False}
    return {"enabled": True, "max_speakers": cfg.speakers.max_speakers,
            "encoder": voices.ENCODER, "method": speakers.METHOD}


def find_current(video: Path, expected: dict | Plan) -> tuple[cache.Index, Path] | None:
    """The first current cache of ``video`` (for a plan, or for the keys of ``expected``) and
    its path. Its ``video`` entry is set to the name given now: the cache may have been built
    from another directory, or moved since."""
    for path in cache.candidates(video):
        idx = cache.load(path)
        if idx is not None and (is_current_for(idx.meta, expected) if isinstance(expected, Plan)
                                else cache.is_current(idx, expected)):
            idx.meta["video"] = str(video)
            return idx, path
        if idx is not None:
            log.info("%s: cache is stale", path)
    return None


def caption_cues(video: Path, p: Plan) -> list[transcript.Cue] | None:
    """The caption cues of the recording (a caption file, or its subtitle stream), or None
    when its transcript comes from ASR."""
    if p.caption_file is not None:
        return transcript.parse_captions(transcript.read_caption_file(p.caption_file),
                                         p.caption_file)
    if p.captions == "embedded":
        return transcript.parse_captions(media.extract_subtitles(video), video)
    return None


def caption_turns(cues: list | None, cfg: Config) -> list[speakers.Turn]:
    """The turns the captions name (none when they name no speaker or speakers are off)."""
    return speakers.from_cues(cues) if cues and cfg.speakers.enabled else []


def find_upgradable(video: Path, p: Plan) -> tuple[cache.Index, Path] | None:
    """A cache of ``video`` that is current in everything but its speaker turns (made with
    other speaker settings), its pause maps or the way its ASR words were split into
    sentences (by an older release; the words are kept): only those need making again, not
    the transcript."""
    rest = {k: v for k, v in p.expected.items() if k not in ("schema", "speakers", "pauses")}
    for path in cache.candidates(video):
        idx = cache.load(path)
        if idx is None or idx.meta.get("schema") != cache.SCHEMA:
            continue
        meta = idx.meta
        if len(idx.word_start):  # the words are kept: they can be split again
            ids = meta.get("models") or {}
            meta = {**meta, "models": {**ids,
                                       "transcript": _split_now(ids.get("transcript", ""))}}
        if is_current_for(meta, dataclasses.replace(p, expected=rest)):
            idx.meta["video"] = str(video)
            return idx, path
    return None


def upgrade(video: Path, p: Plan, cfg: Config, req: IndexRequest, idx: cache.Index,
            path: Path, rep: Reporter) -> IndexResult:
    """Make what ``find_upgradable`` found missing in a cache that has everything else, and
    rewrite it in place: the pause maps (measured again when an older release measured
    them), the speaker turns (made with other speaker settings, or diarized at pauses that
    moved), and the sentences, made again from the kept words by the current splitting and
    split where the turns change speaker. When the sentences change, the text is embedded
    again (then with a new generation, so that library rows are replaced); otherwise the
    generation stays and library rows stay valid."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    cues = caption_cues(video, p)
    sil, pauses, pcm, remeasured = idx.silences, idx.pauses, None, False
    if idx.meta.get("pauses") != audio_stage.PAUSES and p.info.has_audio:
        pcm = media.load_audio(video, cfg.audio.sample_rate, p.info.duration)
        sil, pauses = measure_pauses(pcm, cfg)
        remeasured = not (np.array_equal(sil, idx.silences)
                          and np.array_equal(pauses, idx.pauses))
    turns, method = caption_turns(cues, cfg), "captions"
    if idx.meta.get("speakers") == p.expected["speakers"] and not (
            remeasured and idx.meta.get("speaker_method") == "voices"):
        turns = [speakers.Turn(float(a), float(b), str(who))  # the turns it has stay
                 for (a, b), who in zip(idx.turns, idx.turn_speaker)]
        method = idx.meta.get("speaker_method", "none")
    elif not turns and cfg.speakers.enabled and p.info.has_audio:
        rep.start("speakers", None)
        if pcm is None:
            pcm = media.load_audio(video, cfg.audio.sample_rate, p.info.duration)
        turns, method = _diarize(pcm, pauses, p.info.duration, cfg, timings), "voices"
        rep.finish()
    transcript_id = _split_now(idx.meta["models"]["transcript"])
    meta = {**idx.meta, "speakers": p.expected["speakers"], **_speaker_meta(turns, method),
            "models": {**idx.meta["models"], "transcript": transcript_id},
            "pauses": audio_stage.PAUSES}
    arrays = {**idx.arrays, "silences": sil, "pauses": pauses}
    sents = [Sentence(float(a), float(b), str(t))
             for a, b, t in zip(idx.sent_start, idx.sent_end, idx.sent_text)]
    # the sentences are made again from the words (splits of earlier turns undone), then
    # split where these turns change speaker
    words = transcript.words_from_cues(cues, p.info.duration) if cues is not None else \
        [Word(float(a), float(b), str(t))
         for a, b, t in zip(idx.word_start, idx.word_end, idx.word_text)]
    aligned, base = make_sentences(words, sil, pauses, cues is None, cfg,
                                   idx.meta.get("language", "en")) if words else (words, sents)
    if remeasured and words:  # word edges pulled out of the pauses now measured
        words = aligned
        arrays.update({"word_start": np.array([w.start for w in words], np.float64),
                       "word_end": np.array([w.end for w in words], np.float64)})
    if method == "voices":
        turns = speakers.within_speech(turns, base)
    split = speakers.split_at_turns(base, words, turns, pauses)
    resplit = [(x.start, x.end, x.text) for x in split] != [(x.start, x.end, x.text)
                                                            for x in sents]
    if resplit:
        t = time.perf_counter()
        tmodel = models.load_multilingual_text_model() if idx.meta["text_encoder"] == "e5" \
            else models.load_text_model(req.text_model or cfg.text.model)  # as it was built
        arrays.update(text_arrays(split, p.info.duration, tmodel, cfg))
        meta["generation"] = uuid.uuid4().hex
        timings["text_embeddings"] = time.perf_counter() - t
    arrays.update(speaker_arrays(turns, arrays["sent_start"], arrays["sent_end"]))
    path = cache.save(path, meta, arrays)
    timings["total"] = time.perf_counter() - t0
    if remeasured:
        log.info("%s: pauses measured again (an older release missed them under background "
                 "noise or in quiet sound), and the sentences and speakers made again", video)
    elif meta["speakers"] != idx.meta.get("speakers"):
        log.info("%s: speaker turns added to its index (%s, %d speakers)", video,
                 meta["speaker_method"], meta["speaker_count"])
    elif resplit:
        log.info("%s: sentences made again from its transcript (an older release split them)",
                 video)
    else:
        log.info("%s: index brought up to date (nothing in it changed)", video)
    return IndexResult(video, path, cache.Index(meta, arrays), built=True, timings=timings)


def find_language(cfg: Config, cues: list | None, pcm: np.ndarray | None,
                  pauses: np.ndarray, duration: float) -> lang_id.Language:
    """The recording's language: ``[asr] language`` (``--language``) when set, else named
    from the caption text, else identified from a few pieces of its speech by the packaged
    multilingual Whisper (English, with a one-line warning, when that is not installed)."""
    if cfg.asr.language:
        return lang_id.Language(lang_id.check_code(cfg.asr.language), 1.0, "forced")
    if cues is not None:
        return lang_id.from_text(" ".join(c.text for c in cues)) \
            or lang_id.Language("en", 0.0, "captions")
    if pcm is None:
        return lang_id.Language("en", 0.0, "none")
    try:
        model = models.load_multilingual_whisper(cfg.asr.compute_type)
    except ModelError as exc:
        _warn_once(f"the spoken language is not identified ({exc}); the speech is taken as "
                   "English: pass --language CODE when it is another")
        return lang_id.Language("en", 0.0, "assumed")
    found = lang_id.identify(model, pcm, cfg.audio.sample_rate,
                             lang_id.speech_pieces(duration, pauses))
    if found is not None and found.probability < lang_id.UNSURE:
        _warn_once(f"the spoken language is unsure ({found.name}, {found.code}, probability "
                   f"{found.probability:.2f}); pass --language CODE if it is another")
    return found or lang_id.Language("en", 0.0, "speech")


def _whisper(cfg: Config, req: IndexRequest, lang: lang_id.Language):
    """The faster-whisper model asked for, by default the packaged multilingual base
    (tiny.en, with a warning, when that is not installed); an English-only model asked for
    is used on other languages with a warning."""
    model_path = req.asr_model or cfg.asr.model
    asked = models.asked_whisper(model_path)
    try:
        model = models.load_faster_whisper(asked, cfg.asr.compute_type)
    except ModelError as exc:
        if asked:
            raise
        _warn_once(f"{exc}; the speech is transcribed by the English-only Whisper tiny.en"
                   + (f", so this {lang.name} ({lang.code}) transcript will be poor"
                      if lang.code != "en" else ""))
        return models.load_faster_whisper(models.PACKAGED_TINY, cfg.asr.compute_type)
    if lang.code != "en" and not model.model.is_multilingual:
        _warn_once(f"the speech is {lang.name} ({lang.code}) but the Whisper model given is "
                   "English-only: the transcript will be poor; pass --asr-model base (or DIR "
                   "of another multilingual model)")
    return model


def _text_model(cfg: Config, req: IndexRequest, lang: lang_id.Language) -> tuple[object, str]:
    """(text model, its name for the cache): MiniLM for English, the multilingual encoder
    for other languages (MiniLM, with a warning, where it cannot run). Only the one used is
    loaded."""
    if lang.code != "en":
        try:
            return models.load_multilingual_text_model(), "e5"
        except ModelError as exc:
            _warn_once(f"{exc}; {lang.name} text is embedded with the English model, so "
                       "queries will find little")
    return models.load_text_model(req.text_model or cfg.text.model), "minilm"


def _words(p: Plan, cfg: Config, req: IndexRequest, cues: list | None,
           pcm: np.ndarray | None, sil: np.ndarray, lang: lang_id.Language,
           rep: Reporter) -> list:
    info, cap = p.info, p.captions
    if cap == "none":
        return []
    if cues is not None:
        return transcript.words_from_cues(cues, info.duration)
    backend = req.asr or cfg.asr.backend
    model_path = req.asr_model or cfg.asr.model
    rep.start("transcribe", info.duration)
    if backend == "openai-whisper":
        run = functools.partial(transcript.transcribe_openai_whisper,
                                models.load_openai_whisper(model_path), language=lang.code)
    else:
        english = lang.code == "en"  # other languages decode as set for them ([asr] other_*)
        run = functools.partial(transcript.transcribe_faster_whisper, _whisper(cfg, req, lang),
                                language=lang.code,
                                beam_size=cfg.asr.beam_size if english else cfg.asr.other_beam_size,
                                vad=cfg.asr.vad,
                                batch_size=cfg.asr.batch_size if english else cfg.asr.other_batch_size,
                                chunk_length=cfg.asr.chunk_length if english
                                else cfg.asr.other_chunk_length)
    words = transcript.in_pieces(run, pcm, cfg.audio.sample_rate,
                                 transcript.pieces(len(pcm) / cfg.audio.sample_rate, sil),
                                 rep.update)
    rep.finish()
    return words


def _audio_features(pcm: np.ndarray, cfg: Config, duration: float, timings: dict) -> np.ndarray:
    """Per-second log-mel mean and spread."""
    t = time.perf_counter()
    acfg = cfg.audio
    feats = audio_stage.per_second_log_mel(pcm, acfg.sample_rate, acfg.n_mels, acfg.win_length,
                                           acfg.hop_length, duration)
    timings["audio_features"] = time.perf_counter() - t
    return feats


def _diarize(pcm: np.ndarray, pauses: np.ndarray, duration: float, cfg: Config,
             timings: dict, after=None, stop: threading.Event | None = None
             ) -> list[speakers.Turn]:
    """Speaker turns from the audio (once the future ``after`` is done, if given, on one
    core less than the indexer has: the transcript has one); none, with a one-line warning,
    when the voice encoder is not installed, or when ``stop`` is set (the run is ending)."""
    if after is not None:
        wait([after])
        if after.exception() is not None:
            return []
    if stop is not None and stop.is_set():
        return []
    t = time.perf_counter()
    try:
        encoder = models.load_voice_encoder()
    except ModelError as exc:
        _warn_once(f"speakers not found: {exc}")
        return []
    models.torch_threads(max(1, models.threads() - 1))
    try:
        turns = speakers.diarize(pcm, cfg.audio.sample_rate, pauses, duration, encoder,
                                 cfg.speakers.max_speakers)
    finally:
        models.torch_threads(models.threads())
    timings["speakers"] = time.perf_counter() - t
    return turns


def speaker_arrays(turns: list[speakers.Turn], sent_start: np.ndarray,
                   sent_end: np.ndarray) -> dict:
    """The speaker arrays of a cache: turns, their speakers and each sentence's speaker."""
    return {"turns": np.array([[t.start, t.end] for t in turns], np.float64).reshape(-1, 2),
            "turn_speaker": np.array([t.speaker for t in turns], dtype=np.str_).reshape(-1),
            "sent_speaker": speakers.label_sentences(sent_start, sent_end, turns)}


def language_meta(lang: lang_id.Language) -> dict:
    return {"language": lang.code, "language_probability": lang.probability,
            "language_source": lang.source}


def _speaker_meta(turns: list[speakers.Turn], method: str) -> dict:
    return {"speaker_method": method if turns else "none",
            "speaker_count": len({t.speaker for t in turns})}


@contextlib.contextmanager
def _clock(spent: dict, key: str):
    """Add the time the block takes to ``spent[key]``."""
    t = time.perf_counter()
    try:
        yield
    finally:
        spent[key] += time.perf_counter() - t


def _frames(video: Path, info: media.MediaInfo, cfg: Config, arch: str, weights: str,
            done: list[float], stop: threading.Event,
            timings: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(frame_times, frame_emb, scene_cuts, frames embedded) from one decoding pass shared by
    scene detection and the image tower; ``done[0]`` follows the media time reached. A frame
    within ``[visual] duplicate`` of the last embedded one (and less than max_gap after it)
    reuses that embedding instead of running the tower again."""
    if not info.has_video:
        return np.zeros(0), np.zeros((0, 0), np.float32), np.zeros(0), 0
    ic, vc = cfg.index, cfg.visual
    tower = None
    size = ic.frame_size
    if weights:
        t = time.perf_counter()
        model, _ = models.load_open_clip(arch, weights)
        size = visual.image_size(model)
        tower = visual.image_tower(model, vc.quantize)
        clip_text.export(model, arch, weights)  # so that queries need no torch
        models.torch_threads(max(1, models.threads() - 1))  # the transcript has a core
        timings["visual_model_load"] = time.perf_counter() - t
    scenes = SceneCuts(cfg.scenes.threshold, ic.frame_rate)
    if ic.sampling == "keyframes":
        frames = media.sample_frames(video, ic.frame_rate, size, ic.change, ic.max_gap)
    else:
        frames = media.iter_frames(video, ic.frame_rate, size)
    times: list[float] = []
    dups = visual.NearDuplicates(vc.duplicate, ic.max_gap)
    batch: list[np.ndarray] = []
    embs: list[np.ndarray] = []
    spent = {"scenes": 0.0, "visual": 0.0}   # the rest of the loop is decoding
    start = time.perf_counter()
    for t, rgb in frames:
        if stop.is_set():
            break
        times.append(t)
        with _clock(spent, "scenes"):
            scenes.add(t, rgb)
        if tower is not None:
            with _clock(spent, "visual"):
                if dups.new(t, media.thumbnail(rgb)):
                    batch.append(rgb)
                    if len(batch) == vc.batch_size:
                        embs.append(visual.embed_frames(tower, np.stack(batch)))
                        batch = []
        done[0] = t
    if batch:
        with _clock(spent, "visual"):
            embs.append(visual.embed_frames(tower, np.stack(batch)))
    spent["frames_decode"] = time.perf_counter() - start - spent["scenes"] - spent["visual"]
    models.torch_threads(models.threads())
    timings.update(spent)
    if embs:
        emb = np.concatenate(embs)[np.asarray(dups.rows, dtype=np.int64)]
    else:
        emb = np.zeros((len(times), 0), np.float32)
    return np.asarray(times, dtype=np.float64), emb, scenes.result(), sum(map(len, embs))


def index_video(video: str | Path, cfg: Config, req: IndexRequest = IndexRequest(),
                reporter: Reporter | None = None) -> IndexResult:
    """Index one recording, or return its current cache. Raises ClipcutError on bad input."""
    video = Path(video)
    rep = reporter or Reporter()
    p = plan(video, cfg, req)
    cache.remove_orphans(cache.write_path(video))  # what a killed run left
    if not req.force:
        found = find_current(video, p)
        if found:
            return IndexResult(video, found[1], found[0], built=False)
    with cache.build_lock(video):
        # another process may have built it while this one waited for the lock
        found = None if req.force else find_current(video, p)
        if found:
            return IndexResult(video, found[1], found[0], built=False)
        older = None if req.force else find_upgradable(video, p)
        if older:
            return upgrade(video, p, cfg, req, *older, rep)
        if p.captions == "none" and not p.weights:
            raise MediaError("has no audio stream and no captions; pass --captions FILE "
                             "(.vtt or .srt), or --visual-weights FILE to search its frames",
                             path=video)
        return _build(video, p, cfg, req, rep)


def measure_pauses(pcm: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(silence map, pause map) of decoded audio: quiet stretches by the levels
    (``audio.pause_maps``), and in the pause map also the long stretches with sound but no
    voice (``vad.unvoiced``: applause between two talks, music), so that sentences end
    and speakers are not looked for there. Without the detector (no faster-whisper), the
    levels alone."""
    sil, pauses = audio_stage.pause_maps(pcm, cfg.audio, sentences.ALIGN_PAUSE)
    try:
        gaps = vad.unvoiced(pcm, cfg.audio.sample_rate, pauses)
    except ImportError:
        return sil, pauses
    return sil, vad.with_unvoiced(pauses, gaps)


def make_sentences(words: list, silences: np.ndarray, pauses: np.ndarray, from_asr: bool,
                   cfg: Config, language: str = "en") -> tuple[list, list]:
    """(words with edges aligned to pauses, sentences). Caption cues are sentences already;
    ASR words are split where a pause follows punctuation and the sentences widened to the
    speech around them (``sentences.split_at_pauses``, ``extend_to_speech``); how long a
    pause that takes depends on the ``language`` (English or not)."""
    if not from_asr:
        words = sentences.align_to_silences(words, silences, cfg.asr.max_gap)
        return words, sentences.split_sentences(words, max_gap=cfg.asr.max_gap,
                                                max_duration=cfg.asr.max_sentence)
    words = sentences.align_to_silences(words, pauses, sentences.ALIGN_PAUSE)
    pause = sentences.SENTENCE_PAUSE if language == "en" else sentences.OTHER_SENTENCE_PAUSE
    sents = sentences.split_at_pauses(words, pause=pause,
                                      long_pause=cfg.asr.max_gap,
                                      max_duration=cfg.asr.max_sentence, silences=pauses)
    return words, sentences.extend_to_speech(sents, pauses, sentences.EDGE_PAUSE)


def text_arrays(sents: list, duration: float, tmodel, cfg: Config) -> dict:
    """The sentence and window arrays of a cache: times, texts and text embeddings."""
    sent_text = [s.text for s in sents]
    sent_emb = text.embed(tmodel, sent_text, cfg.text.batch_size)
    wins = windows.make_windows(duration, cfg.index.window, cfg.index.hop)
    s_mid = np.array([(s.start + s.end) / 2 for s in sents], dtype=np.float64)
    s_groups = windows.members(wins, s_mid)
    win_text = text.embed(tmodel, [" ".join(sent_text[i] for i in g) for g in s_groups],
                          cfg.text.batch_size)
    return {"sent_start": np.array([s.start for s in sents], np.float64),
            "sent_end": np.array([s.end for s in sents], np.float64),
            "sent_text": np.array(sent_text, dtype=np.str_).reshape(-1),
            "sent_emb": sent_emb, "windows": wins, "win_text": win_text}


class _Failfast(Reporter):
    """Passes progress on, and raises a side thread's error at the next update, so that a
    bad visual model stops the run now rather than after the whole transcript."""

    def __init__(self, rep: Reporter, side):
        self.rep, self.side = rep, side

    def start(self, stage: str, total: float | None = None) -> None:
        self.rep.start(stage, total)

    def update(self, done: float) -> None:
        if self.side.done() and self.side.exception() is not None:
            raise self.side.exception()
        self.rep.update(done)

    def finish(self) -> None:
        self.rep.finish()


def _build(video: Path, p: Plan, cfg: Config, req: IndexRequest, rep: Reporter) -> IndexResult:
    info = p.info
    arch, weights = p.arch, p.weights
    timings: dict[str, float] = {}
    side: dict[str, float] = {}   # timings written by the side threads
    t0 = time.perf_counter()
    acfg = cfg.audio
    # Frames (decode, scenes, image tower), the log-mel and loading the text model run in
    # side threads beside audio decoding and the transcript: Whisper on CTranslate2 gains
    # nothing from a second core, and these take it.
    done, stop = [0.0], threading.Event()
    cues = caption_cues(video, p)
    cue_turns = caption_turns(cues, cfg)
    with ThreadPoolExecutor(2, thread_name_prefix="clipcut-index") as pool:
        frames = pool.submit(_frames, video, info, cfg, arch, weights, done, stop, side)
        try:
            pcm, sil, pauses, mel, voice_turns = None, np.zeros((0, 2)), np.zeros((0, 2)), None, None
            if info.has_audio:
                rep.start("audio", None)
                t = time.perf_counter()
                pcm = media.load_audio(video, acfg.sample_rate, info.duration)
                sil, pauses = measure_pauses(pcm, cfg)
                timings["decode_audio"] = time.perf_counter() - t
                mel = pool.submit(_audio_features, pcm, cfg, info.duration, side)
                rep.finish()
            t = time.perf_counter()
            lang = find_language(cfg, cues, pcm, pauses, info.duration)
            timings["language"] = time.perf_counter() - t
            # queued before the diarization, which holds a worker until the frames are done
            tmodel = pool.submit(_text_model, cfg, req, lang)
            if pcm is not None and cfg.speakers.enabled and not cue_turns:
                # after the frames: beside the image tower it slowed every stage on 2 cores
                voice_turns = pool.submit(_diarize, pcm, pauses, info.duration, cfg, side,
                                          frames, stop)
            t = time.perf_counter()
            words = _words(p, cfg, req, cues, pcm, sil, lang, _Failfast(rep, frames))
            words, sents = make_sentences(words, sil, pauses, p.captions == "asr", cfg,
                                          lang.code)
            timings["transcript"] = time.perf_counter() - t
        except BaseException:
            stop.set()  # an error or Ctrl-C: do not wait for the frames to finish
            raise
        if not frames.done():
            rep.start("frames" + (" + visual" if weights else " + scenes"), info.duration)
            while not wait([frames], timeout=0.5).done:
                rep.update(done[0])
            rep.finish()
        frame_times, frame_emb, scene_cuts, embedded = frames.result()
        audio_sec = mel.result() if mel is not None else np.zeros((0, 2 * acfg.n_mels), np.float32)
        tmodel, encoder = tmodel.result()
        if voice_turns is not None and not voice_turns.done():
            rep.start("speakers", None)
            voice_turns.result()
            rep.finish()
        turns = cue_turns or speakers.within_speech(
            voice_turns.result() if voice_turns is not None else [], sents)
    sents = speakers.split_at_turns(sents, words, turns, pauses)
    timings.update(side)
    if info.has_video and not weights:
        _warn_once(f"visual modality off: no {arch} weights found; pass --visual-weights FILE "
                   "(an open_clip checkpoint) to index frames")
    if not sents:
        kept = [m for m, on in (("frames", frame_emb.shape[1] > 0), ("audio", info.has_audio)) if on]
        log.warning("%s: no speech or caption text found; indexed %s only", video,
                    " and ".join(kept) or "its length")

    t = time.perf_counter()
    rep.start("text embeddings", None)
    texts = text_arrays(sents, info.duration, tmodel, cfg)
    wins = texts["windows"]
    rep.finish()
    timings["text_embeddings"] = time.perf_counter() - t

    win_visual = windows.pool(frame_emb, windows.members(wins, frame_times)) \
        if frame_emb.shape[1] else np.zeros((len(wins), 0), np.float32)
    sec_mid = np.arange(len(audio_sec)) + 0.5
    win_audio = windows.pool(audio_sec, windows.members(wins, sec_mid), normalize=False)

    meta = dict(p.expected)
    meta["models"] = {**p.expected["models"], "visual": models.visual_model_id(arch, weights)}
    meta.update({
        "clipcut": __version__,
        "video": str(video),
        # a new id at every build: library rows name the build they came from
        "generation": uuid.uuid4().hex,
        "created": info.created,
        "caption_file": str(p.caption_file.resolve()) if p.caption_file else "",
        "duration": info.duration,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "modalities": {"text": bool(sents), "visual": bool(frame_emb.shape[1]),
                       "audio": info.has_audio},
        "frames": {"sampled": len(frame_times), "embedded": embedded},
        "visual_arch": arch,
        "visual_weights": str(Path(weights).resolve()) if weights else "",
        "text_model": req.text_model or cfg.text.model,
        "text_encoder": encoder,   # "minilm" (English) or "e5" (multilingual)
        **language_meta(lang),
        "index_config": cfg.index_json(),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        **_speaker_meta(turns, "captions" if cue_turns else "voices"),
    })
    arrays = {
        **texts, "win_visual": win_visual, "win_audio": win_audio,
        "frame_times": frame_times, "frame_emb": frame_emb, "audio_sec": audio_sec,
        "silences": sil, "pauses": pauses, "scenes": scene_cuts,
        # the timed words the sentences were made of (subtitles, re-splitting, evidence)
        "word_start": np.array([w.start for w in words], np.float64),
        "word_end": np.array([w.end for w in words], np.float64),
        "word_text": np.array([w.text for w in words], dtype=np.str_).reshape(-1),
        **speaker_arrays(turns, texts["sent_start"], texts["sent_end"]),
    }
    path = cache.save(cache.write_path(video), meta, arrays)
    timings["total"] = time.perf_counter() - t0
    meta["timings"]["total"] = round(timings["total"], 3)
    return IndexResult(video, path, cache.Index(meta, arrays), built=True, timings=timings)


def media_files(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively) into the media files they hold, sorted; files pass as is."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*")
                              if q.is_file() and q.suffix.lower() in media.MEDIA_EXTENSIONS
                              and not q.name.startswith(".")))
        else:
            out.append(p)
    return out
