"""Synthetic recordings with known answers: espeak-ng speech on distinct topics, one colour
card per topic (a scene cut at each topic change) and a silence between topics.

Used by the tests, `make demo` and the speed benchmark; needs espeak-ng and ffmpeg.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050     # espeak-ng's output rate (Hz)
SENTENCE_PAUSE = 0.35   # silence between sentences (s)
TOPIC_PAUSE = 2.0       # silence between topics (s): a known silence and a scene cut
COLOURS = ["0x2E86AB", "0xA23B72", "0xF18F01", "0x3B1F2B", "0x44AF69", "0xC73E1D"]

TOPICS = {
    "pricing": [
        "Let's talk about the price of the enterprise plan.",
        "The customer said our pricing is too expensive for their budget this year.",
        "They asked for a discount because a competitor quoted a cheaper annual contract.",
        "I explained that the license cost includes support and training.",
        "We agreed to send a revised quote with a lower price per seat.",
        "If the price objection remains, we can offer a two year contract at a fixed rate.",
        "Their finance team must approve any spending above fifty thousand dollars.",
    ],
    "astronomy": [
        "Last night I pointed my telescope at the planet Jupiter.",
        "You can see four moons orbiting the giant planet.",
        "Saturn's rings were bright and the galaxy in Andromeda was faint.",
        "Astronomers measure the distance to stars in light years.",
        "A clear dark sky away from city lights is best for stargazing.",
        "The space telescope photographs nebulas where new stars are born.",
        "Next month a comet will be visible just after sunset.",
    ],
    "cooking": [
        "To bake sourdough bread, mix flour, water and salt in a large bowl.",
        "Knead the dough for ten minutes until it becomes smooth and elastic.",
        "Let it rise overnight, then shape the loaf and score the top.",
        "Bake it in a hot oven at two hundred and thirty degrees.",
        "The crust should be dark brown and the crumb soft and airy.",
        "For the tomato soup, roast the garlic and onions with olive oil.",
        "Season the recipe with basil, pepper and a pinch of sugar.",
    ],
    "football": [
        "The football match ended two to one after extra time.",
        "Our striker scored the winning goal with a header from a corner kick.",
        "The goalkeeper saved a penalty in the first half.",
        "The coach changed the formation and the defenders played much better.",
        "Fans in the stadium sang until the referee blew the final whistle.",
        "Next season the club wants to sign a faster winger.",
        "The league table shows our team in third place.",
    ],
}

# Known answers for confidence checks: a paraphrase of each topic that shares no content
# word (nor its crude stem) with the topic's sentences, and queries about none of them.
PARAPHRASES = {
    "pricing": "a shopper unhappy about the amount they have to pay",
    "astronomy": "gazing at celestial objects through an optical instrument",
    "cooking": "kitchen instructions for preparing a meal",
    "football": "the result of a soccer game",
}
OFF_TOPIC = ["quantum chromodynamics lattice gauge theory",
             "ancient Egyptian pharaohs and their tombs",
             "knitting a wool scarf for winter"]


# Recordings in other languages (espeak-ng voice -> topics), with queries in English and in
# the recording's language that name each topic in other words.
FOREIGN_VOICES = {"es": "es", "de": "de", "fr": "fr"}
FOREIGN_TOPICS = {
    "es": {
        "pricing": ["El precio de la licencia es demasiado caro para nuestro presupuesto.",
                    "Necesitamos un descuento del veinte por ciento.",
                    "La competencia ofrece un contrato anual mucho más barato.",
                    "Si el costo baja, firmamos el contrato este mes.",
                    "El director financiero debe aprobar cualquier gasto grande."],
        "security": ["Nos preocupa la seguridad de los datos de los clientes.",
                     "Todas las contraseñas deben estar cifradas.",
                     "El servidor guarda copias de seguridad cada noche.",
                     "Solo el equipo técnico puede entrar en la base de datos.",
                     "Cada año un auditor externo revisa el sistema."],
        "delivery": ["El envío de los productos llegará con retraso.",
                     "Los camiones salen del almacén el lunes.",
                     "El puerto está cerrado por una huelga de dos días.",
                     "Los paquetes pequeños van por avión.",
                     "La entrega final será a finales de marzo."],
        "football": ["Ayer vimos el partido de fútbol en el estadio.",
                     "Nuestro equipo ganó tres a uno.",
                     "El delantero marcó dos goles en la segunda parte.",
                     "El portero jugó muy bien toda la tarde.",
                     "Los aficionados cantaron hasta el final."],
    },
    "de": {
        "pricing": ["Der Preis der Lizenz ist für unser Budget viel zu hoch.",
                    "Wir brauchen einen Rabatt von zwanzig Prozent.",
                    "Die Konkurrenz bietet einen viel billigeren Jahresvertrag an.",
                    "Wenn die Kosten sinken, unterschreiben wir den Vertrag noch diesen Monat.",
                    "Der Finanzchef muss jede große Ausgabe genehmigen."],
        "security": ["Wir machen uns Sorgen um die Sicherheit der Kundendaten.",
                     "Alle Passwörter müssen verschlüsselt werden.",
                     "Der Server erstellt jede Nacht eine Sicherungskopie.",
                     "Nur das technische Team darf auf die Datenbank zugreifen.",
                     "Jedes Jahr prüft ein externer Gutachter das System."],
        "delivery": ["Die Lieferung der Waren kommt leider zu spät.",
                     "Die Lastwagen verlassen das Lager am Montag.",
                     "Der Hafen ist wegen eines Streiks zwei Tage geschlossen.",
                     "Kleine Pakete schicken wir mit dem Flugzeug.",
                     "Die letzte Lieferung erfolgt Ende März."],
        "football": ["Gestern haben wir das Fußballspiel im Stadion gesehen.",
                     "Unsere Mannschaft hat drei zu eins gewonnen.",
                     "Der Stürmer hat in der zweiten Halbzeit zwei Tore geschossen.",
                     "Der Torwart hat den ganzen Nachmittag sehr gut gespielt.",
                     "Die Fans haben bis zum Schluss gesungen."],
    },
    "fr": {
        "pricing": ["Le prix de la licence est beaucoup trop cher pour notre budget.",
                    "Nous avons besoin d'une remise de vingt pour cent.",
                    "La concurrence propose un contrat annuel bien moins cher.",
                    "Si le coût baisse, nous signons le contrat ce mois-ci.",
                    "Le directeur financier doit approuver toute grosse dépense."],
        "security": ["Nous sommes inquiets pour la sécurité des données des clients.",
                     "Tous les mots de passe doivent être chiffrés.",
                     "Le serveur fait une sauvegarde chaque nuit.",
                     "Seule l'équipe technique peut accéder à la base de données.",
                     "Chaque année, un auditeur externe vérifie le système."],
        "delivery": ["La livraison des marchandises arrivera en retard.",
                     "Les camions quittent l'entrepôt lundi.",
                     "Le port est fermé à cause d'une grève de deux jours.",
                     "Les petits colis partent par avion.",
                     "La livraison finale aura lieu fin mars."],
        "football": ["Hier, nous avons regardé le match de football au stade.",
                     "Notre équipe a gagné trois à un.",
                     "L'attaquant a marqué deux buts en deuxième mi-temps.",
                     "Le gardien a très bien joué tout l'après-midi.",
                     "Les supporters ont chanté jusqu'à la fin."],
    },
}
FOREIGN_QUERIES_EN = {"pricing": "the license costs too much and they want a discount",
                      "security": "keeping customer data safe with encrypted passwords",
                      "delivery": "the shipment of goods will arrive late",
                      "football": "watching a soccer game at the stadium"}
FOREIGN_QUERIES = {
    "es": {"pricing": "es muy costoso, queremos una rebaja",
           "security": "proteger la información de los usuarios",
           "delivery": "los productos no llegan a tiempo",
           "football": "el resultado del juego de ayer"},
    "de": {"pricing": "es ist zu teuer, wir wollen weniger zahlen",
           "security": "Schutz der Daten unserer Kunden",
           "delivery": "die Ware kommt nicht rechtzeitig an",
           "football": "das Ergebnis des Spiels gestern"},
    "fr": {"pricing": "c'est trop coûteux, il faut baisser le tarif",
           "security": "protéger les informations des utilisateurs",
           "delivery": "les produits n'arrivent pas à temps",
           "football": "le résultat de la partie d'hier"},
}
# Queries in each talk's own language about subjects none of its topics touches.
FOREIGN_OFF_TOPIC = {
    "es": ["los antiguos faraones egipcios y sus tumbas",
           "tejer una bufanda de lana para el invierno",
           "recetas de cocina con pasta"],
    "de": ["alte ägyptische Pharaonen und ihre Gräber",
           "einen Wollschal für den Winter stricken",
           "Kochrezepte für Nudeln"],
    "fr": ["les anciens pharaons égyptiens et leurs tombeaux",
           "tricoter une écharpe en laine pour l'hiver",
           "recettes de cuisine avec des pâtes"],
}

# A sales call between three voices: a seller (A), a customer (B) and the customer's security
# lead (C); questions are answered by another speaker in the next turn.
VOICES = {"A": "en-us+m3", "B": "en-029+f2", "C": "en-gb-x-rp+m5"}
CONVERSATION = [
    ("A", ["Thanks for joining the call today.",
           "I would like to understand your needs before we talk about the contract."]),
    ("B", ["Sure, happy to help.",
           "We run a logistics company with warehouses in three countries."]),
    ("A", ["How much money have you set aside for this project?"]),
    ("B", ["Our finance director approved eighty thousand dollars for the first year.",
           "Half of that budget is reserved for training and onboarding.",
           "The rest pays for licenses and the hardware in the warehouses."]),
    ("C", ["I lead the security team at the company.",
           "Our auditors require that customer data stays in European data centres.",
           "We also need single sign on with our existing identity provider."]),
    ("A", ["When do you need the system running in the warehouses?"]),
    ("B", ["The first warehouse in Rotterdam must go live before the holiday season.",
           "The other two sites can follow early next year, once the pilot has worked.",
           "Our drivers will start using the mobile scanners in the second phase."]),
    ("C", ["Can your product encrypt the backups as well?"]),
    ("A", ["Yes, every backup is encrypted with keys that your security team controls.",
           "We rotate those keys automatically every ninety days.",
           "Auditors receive a monthly report of every key that was used."]),
]
TURN_PAUSE = 0.6        # silence between turns (s)


@dataclass(frozen=True)
class SynthSentence:
    start: float
    end: float
    text: str
    topic: str


@dataclass(frozen=True)
class Recording:
    video: str
    duration: float
    sentences: list[SynthSentence]
    topics: dict[str, tuple[float, float]]     # topic -> (start, end) of its speech
    scene_cuts: list[float]                    # times where the colour card changes
    silences: list[tuple[float, float]]        # the pauses between topics

    def save_manifest(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))


def vtt_cues(cues) -> str:
    """A WebVTT file of (sentence, speaker name or None) cues, one per sentence."""
    return "WEBVTT\n\n" + "\n\n".join(
        f"{vtt_time(s.start)} --> {vtt_time(s.end)}\n"
        + (f"<v {name}>{s.text}</v>" if name else s.text) for s, name in cues) + "\n"


def topic_of(start: float, end: float, topics: dict[str, tuple[float, float]]) -> str:
    """The topic (name -> (start, end) of its speech, s) holding most of ``start``..``end``."""
    return max(topics, key=lambda t: min(end, topics[t][1]) - max(start, topics[t][0]))


def vtt_time(t: float) -> str:
    """A WebVTT timestamp (HH:MM:SS.mmm)."""
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}"


@dataclass(frozen=True)
class SynthTurn:
    speaker: str
    start: float
    end: float
    sentences: list[SynthSentence]


@dataclass(frozen=True)
class Conversation:
    video: str
    duration: float
    turns: list[SynthTurn]

    def vtt(self, names: dict[str, str] | None = None) -> str:
        """WebVTT captions of the conversation, one cue per sentence, with a voice tag naming
        its speaker when ``names`` maps speakers to names."""
        return vtt_cues((s, names[t.speaker] if names else None)
                        for t in self.turns for s in t.sentences)


def speak(text: str, voice: str = "en-us", rate: int = 170) -> np.ndarray:
    """espeak-ng speech as float32 samples at SAMPLE_RATE."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", tmp.name, text],
                       check=True, capture_output=True)
        with wave.open(tmp.name) as w:
            assert w.getframerate() == SAMPLE_RATE and w.getsampwidth() == 2
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def _trim(pcm: np.ndarray, level: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(pcm) > level)
    return pcm[loud[0]:loud[-1] + 1] if len(loud) else pcm


def _say(lines: list[str], voice: str, label: str, t: float, pieces: list[np.ndarray],
         pause: float = SENTENCE_PAUSE) -> tuple[list[SynthSentence], float]:
    """Append the lines spoken in ``voice`` (``pause`` s between them) to ``pieces``,
    starting at ``t`` s; return their sentences (``label`` as topic) and the time after."""
    out = []
    for si, line in enumerate(lines):
        if si:
            pieces.append(np.zeros(int(pause * SAMPLE_RATE), np.float32))
            t += int(pause * SAMPLE_RATE) / SAMPLE_RATE
        pcm = _trim(speak(line, voice))
        pieces.append(pcm)
        out.append(SynthSentence(round(t, 3), round(t + len(pcm) / SAMPLE_RATE, 3), line, label))
        t += len(pcm) / SAMPLE_RATE
    return out, t


def _write_video(out: Path, audio: np.ndarray, cards: list[tuple[str, float]], size: str,
                 fps: int | str, preset: str, moving: bool = False) -> None:
    """Mux ``audio`` with colour cards of the given durations into ``out`` (H.264 + AAC)."""
    duration = len(audio) / SAMPLE_RATE
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
        inputs, filters = [], []
        for i, (colour, dur) in enumerate(cards):
            source = (f"testsrc2=s={size}:r={fps}:d={dur:.3f}" if moving and i % 2
                      else f"color=c={colour}:s={size}:r={fps}:d={dur:.3f}")
            inputs += ["-f", "lavfi", "-i", source]
            filters.append(f"[{i}:v]")
        graph = "".join(filters) + f"concat=n={len(cards)}:v=1:a=0[v]"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-i", str(wav),
                        "-filter_complex", graph, "-map", "[v]", "-map", f"{len(cards)}:a",
                        "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "96k", "-t", f"{duration:.3f}", str(out)],
                       check=True, capture_output=True)


def remix_audio(src: str | Path, out: Path, audio_filter: str) -> None:
    """Write ``out``: ``src`` with its picture as is and its sound passed through an ffmpeg
    filter graph (``[0:a]`` in, ``[a]`` out), e.g. NOISE or ``[0:a]volume=0.02[a]``."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src),
                    "-filter_complex", audio_filter, "-map", "0:v", "-map", "[a]",
                    "-c:v", "copy", "-c:a", "aac", str(out)], check=True, capture_output=True)


def noise(duration: float, amplitude: float, seed: int = 1) -> str:
    """The filter graph for ``remix_audio`` that mixes steady pink noise into the sound
    (ffmpeg's anoisesrc amplitude: 0.06 is about -39 dBFS, 0.1 about -34, 0.15 about -30; a
    room or a phone line, never under -40 dBFS), seeded so that a run repeats."""
    return (f"anoisesrc=d={duration + 1:.1f}:c=pink:a={amplitude}:seed={seed}[n];"
            "[0:a][n]amix=inputs=2:duration=first:normalize=0[a]")


# A tune (a note every quarter second, swelling twice a second, over a steady bass): loud
# sound that is not speech and never falls silent, as a podcast's or webinar's music is.
TUNE = ("aevalsrc='0.25*sin(2*PI*(220*pow(2,floor(mod(t*4,12))/12))*t)*(0.6+0.4*sin(2*PI*2*t))"
        "+0.12*sin(2*PI*110*t)':s=22050:d={duration:.2f}")


def add_music(src: str | Path, out: Path, duration: float, intro: float = 20.0,
              outro: float = 15.0, bed: float = 0.2) -> None:
    """Write ``out`` (sound only, e.g. .m4a): ``src``'s sound (``duration`` s) after
    ``intro`` s of music, the music fading over 4 s to ``bed`` of its level under the speech
    and back to full for ``outro`` s after it; so the speech starts ``intro`` s later."""
    end = intro + duration - 0.5
    level = (f"if(lt(t,{intro}),1,if(lt(t,{intro + 4}),1-{(1 - bed) / 4:.4f}*(t-{intro}),"
             f"if(lt(t,{end:.2f}),{bed},1)))")
    graph = (f"{TUNE.format(duration=intro + duration + outro)}[m0];"
             f"[m0]volume='{level}':eval=frame[m];"
             f"[0:a]aresample={SAMPLE_RATE},aformat=channel_layouts=mono,"
             f"adelay={int(intro * 1000)},apad=pad_dur={outro}[t];"
             "[m][t]amix=inputs=2:duration=shortest:normalize=0[a]")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src),
                    "-filter_complex", graph, "-map", "[a]", "-c:a", "aac", str(out)],
                   check=True, capture_output=True)


def make_conversation(out: Path, turns: list[tuple[str, list[str]]] | None = None, *,
                      voices: dict[str, str] | None = None, lead: float = 1.0,
                      size: str = "320x240", fps: int | str = 25) -> Conversation:
    """Write ``out``: speakers taking turns (one espeak-ng voice each, TURN_PAUSE between
    turns, SENTENCE_PAUSE between a turn's sentences) over one still card; return the turns
    with exact times."""
    turns = turns or CONVERSATION
    voices = voices or VOICES
    pieces = [np.zeros(int(lead * SAMPLE_RATE), np.float32)]
    t = lead
    out_turns = []
    for ti, (who, lines) in enumerate(turns):
        if ti:
            pieces.append(np.zeros(int(TURN_PAUSE * SAMPLE_RATE), np.float32))
            t += int(TURN_PAUSE * SAMPLE_RATE) / SAMPLE_RATE
        sents, t = _say(lines, voices[who], who, t, pieces)
        out_turns.append(SynthTurn(who, sents[0].start, sents[-1].end, sents))
    pieces.append(np.zeros(int(lead * SAMPLE_RATE), np.float32))
    audio = np.concatenate(pieces)
    _write_video(out, audio, [(COLOURS[0], len(audio) / SAMPLE_RATE)], size, fps, "ultrafast")
    return Conversation(str(out), len(audio) / SAMPLE_RATE, out_turns)


def make_recording(out: Path, topics: dict[str, list[str]] | None = None, *,
                   size: str = "320x240", fps: int | str = 25, repeat: int = 1,
                   lead: float = 1.0, moving: bool = False,
                   preset: str = "ultrafast", voice: str = "en-us",
                   sentence_pause: float = SENTENCE_PAUSE) -> Recording:
    """Write ``out`` (MP4: H.264 + AAC) and return what it holds, with exact times.
    ``sentence_pause`` is the silence between a topic's sentences (fluent speech pauses
    0.2-0.3 s at a full stop; espeak-ng reading a paragraph pauses about 0.3 s).
    ``repeat`` > 1 cycles through the topics again (for long benchmark recordings).
    ``moving`` shows every second topic as a moving test pattern instead of a still card
    (camera-like content that costs what real footage costs to decode)."""
    topics = topics or TOPICS
    pieces = [np.zeros(int(lead * SAMPLE_RATE), np.float32)]
    t = lead
    sentences, spans, cuts, silences = [], {}, [], []
    cards = []  # (colour, duration)
    card_start = 0.0
    order = [(f"{name}" if repeat == 1 else f"{name}#{r}", lines)
             for r in range(repeat) for name, lines in topics.items()]
    for ti, (name, lines) in enumerate(order):
        if ti:
            pieces.append(np.zeros(int(TOPIC_PAUSE * SAMPLE_RATE), np.float32))
            silences.append((t, t + TOPIC_PAUSE))
            cut = t + TOPIC_PAUSE / 2
            cards.append((COLOURS[(ti - 1) % len(COLOURS)], cut - card_start))
            cuts.append(cut)
            card_start = cut
            t += TOPIC_PAUSE
        begin = t
        said, t = _say(lines, voice, name, t, pieces, sentence_pause)
        sentences += said
        spans[name] = (round(begin, 3), round(t, 3))
    pieces.append(np.zeros(int(lead * SAMPLE_RATE), np.float32))
    t += lead
    cards.append((COLOURS[(len(order) - 1) % len(COLOURS)], t - card_start))
    audio = np.concatenate(pieces)
    duration = len(audio) / SAMPLE_RATE

    _write_video(out, audio, cards, size, fps, preset, moving)
    return Recording(str(out), duration, sentences, spans, cuts, silences)
