#!/usr/bin/env python3
"""Recordings in other languages, measured on generated speech (espeak-ng):

    python scripts/bench_languages.py --out /tmp/langs lid        # language identification
    python scripts/bench_languages.py --out /tmp/langs retrieval  # topics found, no match
    python scripts/bench_languages.py --out /tmp/langs translate  # Whisper's translation instead
    python scripts/bench_languages.py --out /tmp/langs speed --minutes 30 --language es

lid: 9 languages x 3 voices, each a recording of a few sentences, one in three preceded by
20 s of music-like tones; the language `clipcut index` records is compared with the truth.
retrieval: one recording per language of clipcut.synth.FOREIGN_TOPICS (4 topics), asked
each topic in English and in its own language, and 3 off-topic queries in each, through the real
command (`clipcut query --json --no-cut --all`): is the top clip's middle inside the topic,
does the command exit 1 for off-topic queries and 0 for topic queries, and is what the
default output shows (the clips not marked weak) in the topic.
translate: Whisper's translation of those talks, embedded with MiniLM, as the other way
across languages (after `retrieval`, which makes the talks).
speed: a recording of the topics repeated to --minutes, indexed once (timings from the cache).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipcut import cache, synth  # noqa: E402

CLIPCUT = str(Path(sys.executable).with_name("clipcut"))
# A few sentences in each language (espeak-ng voice, text) for identification.
LID_TEXTS = {
    "en": ("en-us", "The meeting starts at nine. We will review the budget and the hiring "
                    "plan for the next quarter."),
    "es": ("es", " ".join(synth.FOREIGN_TOPICS["es"]["delivery"][:3])),
    "de": ("de", " ".join(synth.FOREIGN_TOPICS["de"]["delivery"][:3])),
    "fr": ("fr", " ".join(synth.FOREIGN_TOPICS["fr"]["delivery"][:3])),
    "it": ("it", "La riunione comincia alle nove. Parleremo del bilancio e delle nuove "
                 "assunzioni per il prossimo trimestre."),
    "pt": ("pt", "A reunião começa às nove horas. Vamos falar do orçamento e das novas "
                 "contratações para o próximo trimestre."),
    "nl": ("nl", "De vergadering begint om negen uur. We bespreken de begroting en de nieuwe "
                 "medewerkers voor het volgende kwartaal."),
    "pl": ("pl", "Spotkanie zaczyna się o dziewiątej. Omówimy budżet i plan zatrudnienia na "
                 "następny kwartał."),
    "sv": ("sv", "Mötet börjar klockan nio. Vi går igenom budgeten och planen för nya "
                 "anställningar nästa kvartal."),
}
VARIANTS = ("", "+f2", "+m3")
OFF_TOPIC = synth.OFF_TOPIC


def write_speech(out: Path, voice: str, text: str, music: float = 0.0) -> None:
    """An MP4 of ``text`` spoken by ``voice``, after ``music`` s of tones when > 0."""
    pcm = synth.speak(text, voice)
    lead = np.zeros(int(synth.SAMPLE_RATE), np.float32)
    parts = [lead]
    if music:
        t = np.arange(int(music * synth.SAMPLE_RATE)) / synth.SAMPLE_RATE
        notes = 220.0 * 2 ** (np.floor(t * 2) % 7 / 7)  # a new note every half second
        parts.append((0.3 * np.sin(2 * np.pi * notes * t)).astype(np.float32))
    parts += [pcm, lead]
    audio = np.concatenate(parts)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(synth.SAMPLE_RATE)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=black:s=160x120:r=5", "-i", str(wav), "-shortest",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
                       check=True)


def indexed_meta(video: Path, *extra: str) -> dict:
    """The cache's metadata after `clipcut index`, with the command's wall time."""
    t = time.perf_counter()
    subprocess.run([CLIPCUT, "index", str(video), "-q", *extra], check=True)
    meta = cache.load(next(p for p in cache.candidates(video) if p.is_file())).meta
    return {**meta, "wall": time.perf_counter() - t}


def lid(out: Path) -> int:
    right = total = 0
    rows = []
    for i, (code, (voice, text)) in enumerate(LID_TEXTS.items()):
        for j, variant in enumerate(VARIANTS):
            music = 20.0 if (i + j) % 3 == 0 else 0.0
            video = out / f"lid-{code}{variant.replace('+', '-')}.mp4"
            if not video.exists():
                write_speech(video, voice + variant, text, music)
            meta = indexed_meta(video)
            ok = meta["language"] == code
            right += ok
            total += 1
            rows.append((code, voice + variant, music, meta["language"],
                         meta["language_probability"], meta["timings"].get("language", 0.0)))
            print(f"{code:3} {voice + variant:8} music {music:4.0f} s -> {meta['language']} "
                  f"p={meta['language_probability']:.2f} ({meta['timings'].get('language', 0):.1f} s)"
                  + ("" if ok else "  WRONG"), flush=True)
    print(f"language identification: {right}/{total} right "
          f"({len(LID_TEXTS)} languages x {len(VARIANTS)} voices)")
    return 0


def words_of(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def wer(truth: list[str], heard: list[str]) -> float:
    """Word error rate: word-level edit distance over the true words."""
    row = list(range(len(heard) + 1))
    for i, t in enumerate(truth, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(heard, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (t != h))
    return row[-1] / max(len(truth), 1)


def topic_of(t: float, topics: dict) -> str:
    return next((name for name, (a, b) in topics.items() if a <= t <= b), "-")


def ask(video: Path, query: str) -> tuple[int, dict]:
    r = subprocess.run([CLIPCUT, "query", str(video), query, "--json", "--no-cut", "--all",
                        "-n", "3"], capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {"clips": []}


def retrieval(out: Path) -> int:
    found = asked = on_exit0 = right_first = stray = 0
    off_ok, off_n = {True: 0, False: 0}, {True: 0, False: 0}  # by "asked in English"
    for lang, topics in synth.FOREIGN_TOPICS.items():
        video = out / f"topics-{lang}.mp4"
        manifest = video.with_suffix(".json")
        if not manifest.exists():
            synth.make_recording(video, topics, voice=synth.FOREIGN_VOICES[lang]) \
                .save_manifest(manifest)
        rec = json.loads(manifest.read_text())
        meta = indexed_meta(video)
        idx = cache.load(next(p for p in cache.candidates(video) if p.is_file()))
        error = wer(words_of(" ".join(" ".join(v) for v in topics.values())),
                    words_of(" ".join(idx.sent_text.tolist())))
        print(f"{lang}: {rec['duration']:.0f} s, language {meta['language']} "
              f"p={meta['language_probability']:.2f}, text {meta['text_encoder']}, "
              f"WER {error:.1%}, index {meta['wall']:.1f} s", flush=True)
        queries = [(t, q, "en") for t, q in synth.FOREIGN_QUERIES_EN.items()] + \
            [(t, q, lang) for t, q in synth.FOREIGN_QUERIES[lang].items()]
        for topic, q, q_lang in queries:
            rc, doc = ask(video, q)
            top = doc["clips"][0] if doc["clips"] else None
            got = topic_of((top["start"] + top["end"]) / 2, rec["topics"]) if top else "-"
            found += got == topic
            on_exit0 += rc == 0
            asked += 1
            # what the default output shows (the clips not marked weak)
            shown = [topic_of((c["start"] + c["end"]) / 2, rec["topics"])
                     for c in doc["clips"] if not c["weak"]]
            right_first += bool(shown) and shown[0] == topic
            stray += sum(t != topic for t in shown)
            print(f"  {q_lang} {topic:9} -> {got:9} exit {rc} conf "
                  f"{top['confidence'] if top else 0:.3f}  {q}", flush=True)
        for q, q_lang in [(q, "en") for q in OFF_TOPIC] + \
                [(q, lang) for q in synth.FOREIGN_OFF_TOPIC[lang]]:
            rc, doc = ask(video, q)
            top = doc["clips"][0] if doc["clips"] else None
            off_ok[q_lang == "en"] += rc == 1
            off_n[q_lang == "en"] += 1
            print(f"  {q_lang} off         exit {rc} conf "
                  f"{top['confidence'] if top else 0:.3f}  {q}")
    print(f"topic queries: top clip in the topic {found}/{asked}, exit 0 {on_exit0}/{asked} "
          f"(the default output's first clip in the topic {right_first}, clips of another "
          f"topic in it {stray}); off-topic queries: exit 1 for {off_ok[True]}/{off_n[True]} "
          f"in English, {off_ok[False]}/{off_n[False]} in the talk's language")
    return 0


def translate(out: Path) -> int:
    """Whisper's own translation instead of the multilingual encoder: each talk (made by
    ``retrieval``) translated to English by the multilingual Whisper base (greedy, VAD), its
    text grouped by topic and embedded with MiniLM; each English query should match its
    topic best."""
    from clipcut import models
    from clipcut.index import media

    whisper = models.load_multilingual_whisper()
    minilm = models.load_text_model("")
    right = total = 0
    for lang in synth.FOREIGN_TOPICS:
        video = out / f"topics-{lang}.mp4"
        rec = json.loads(video.with_suffix(".json").read_text())
        pcm = media.load_audio(video, 16000, rec["duration"])
        t = time.perf_counter()
        segments, _ = whisper.transcribe(pcm, language=lang, task="translate", beam_size=1,
                                         vad_filter=True, condition_on_previous_text=False)
        segments = list(segments)
        took = time.perf_counter() - t
        texts = {name: " ".join(x.text for x in segments if a - 1 <= (x.start + x.end) / 2 <= b + 1)
                 for name, (a, b) in rec["topics"].items()}
        emb = minilm.encode(list(texts.values()), normalize_embeddings=True)
        names = list(texts)
        print(f"{lang}: translated in {took:.1f} s; " + json.dumps(texts, ensure_ascii=False)[:300])
        for topic, q in synth.FOREIGN_QUERIES_EN.items():
            sims = emb @ minilm.encode([q], normalize_embeddings=True)[0]
            got = names[int(np.argmax(sims))]
            right += got == topic
            total += 1
            print(f"  {topic:9} -> {got:9} similarities {np.round(sims, 2).tolist()}")
    print(f"translation + MiniLM: English query's topic best {right}/{total}")
    return 0


def speed(out: Path, minutes: float, lang: str) -> int:
    topics = synth.FOREIGN_TOPICS[lang]
    video = out / f"speed-{lang}-{minutes:g}min.mp4"
    if not video.exists():
        one = sum(len(" ".join(v)) for v in topics.values()) / 14.0 + 8  # ~s per cycle
        synth.make_recording(video, topics, voice=synth.FOREIGN_VOICES[lang],
                             repeat=max(1, int(minutes * 60 / one)))
    meta = indexed_meta(video, "--force")
    wall = meta["wall"]
    print(f"{video.name}: {meta['duration'] / 60:.1f} min indexed in {wall:.1f} s "
          f"(language {meta['language']}); timings {json.dumps(meta['timings'])}")
    print(f"extrapolated to 90 minutes: {wall * 90 * 60 / meta['duration']:.0f} s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("lid", "retrieval", "translate", "speed"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--language", default="es")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CLIPCUT_DEBUG", "")
    if args.what == "lid":
        return lid(args.out)
    if args.what == "retrieval":
        return retrieval(args.out)
    if args.what == "translate":
        return translate(args.out)
    return speed(args.out, args.minutes, args.language)


if __name__ == "__main__":
    sys.exit(main())
