"""Speech as recordings hold it, not as the benchmark's one-sentence-at-a-time espeak-ng
renders it: a talk read fluently (0.3 s at each full stop, as espeak-ng reading a paragraph),
over steady background noise (never under -40 dBFS) or recorded quietly (all of it under
-40 dBFS) is still split into its sentences, so a query about one sentence gets that sentence
as its evidence; applause between two subjects ends the sentence before it; music around a
call is no speaker and takes none of its words; and a cache whose sentences or pauses an older release made is made again
from its kept words, not transcribed again."""
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from clipcut import cache
from clipcut.index.audio import PAUSES
from clipcut.index.sentences import ASR_SPLIT
from clipcut.synth import TOPICS, add_music, make_conversation, make_recording, noise, remix_audio

from .conftest import query_json, run_cli

TOPIC_NAMES = ("pricing", "astronomy")


@pytest.fixture(scope="module")
def fluent(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fluent")
    rec = make_recording(folder / "talk.mp4", {k: TOPICS[k] for k in TOPIC_NAMES},
                         sentence_pause=0.3)
    proc = run_cli("index", rec.video)
    assert proc.returncode == 0, proc.stderr
    return rec


def cached(video) -> cache.Index:
    return cache.load(cache.sidecar_path(Path(video)))


def remix(rec, out: Path, audio_filter: str):
    """``rec`` with its sound passed through an ffmpeg filter graph, indexed."""
    remix_audio(rec.video, out, audio_filter)
    proc = run_cli("index", out)
    assert proc.returncode == 0, proc.stderr
    return dataclasses.replace(rec, video=str(out))


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    """The talk read with 0.4 s at each full stop (not indexed): over noise or recorded
    quietly, Whisper writes commas where the full stops of a more fluent reading were."""
    return make_recording(tmp_path_factory.mktemp("read") / "clean.mp4",
                          {k: TOPICS[k] for k in TOPIC_NAMES}, sentence_pause=0.4)


@pytest.fixture(scope="module")
def noisy(read, tmp_path_factory):
    # pink noise at about -36 dBFS: a room, a phone line
    return remix(read, tmp_path_factory.mktemp("noisy") / "talk.mp4",
                 noise(read.duration, 0.08, seed=7))


@pytest.fixture(scope="module")
def quiet(read, tmp_path_factory):
    # 34 dB down: the speech peaks under -40 dBFS
    return remix(read, tmp_path_factory.mktemp("quiet") / "talk.mp4", "[0:a]volume=0.02[a]")


@pytest.fixture(params=["fluent", "noisy", "quiet"])
def talk(request):
    return request.getfixturevalue(request.param)


def test_the_talk_is_split_into_its_sentences(talk):
    idx = cached(talk.video)
    true_starts = np.array([s.start for s in talk.sentences])
    # 14 sentences spoken; 0.35 s of pause per full stop made 2 "sentences" of whole topics,
    # and over the noise (no pause measured) one-word sentences and one of 30 s
    assert len(talk.sentences) - 3 <= len(idx.sent_start) <= len(talk.sentences) + 2, \
        list(zip(idx.sent_start, idx.sent_text))
    near = [np.min(np.abs(true_starts - s)) <= 0.6 for s in idx.sent_start]
    assert np.mean(near) >= 0.8, list(zip(idx.sent_start, idx.sent_text))


@pytest.mark.parametrize("query,topic,i", [
    ("spending approval by the finance team", "pricing", 6),
    ("the moons of Jupiter", "astronomy", 1),
])
def test_a_query_about_one_sentence_gets_that_sentence_as_evidence(talk, query, topic, i):
    target = [s for s in talk.sentences if s.topic == topic][i]
    rc, data, err = query_json(talk.video, query, "-n", "1", "--no-cut")
    assert rc == 0, err
    clip = data["clips"][0]
    assert clip["start"] <= target.start and target.end <= clip["end"] + 0.5
    evidence = clip["evidence"]
    assert abs(evidence["sentence_start"] - target.start) <= 0.6, evidence
    assert len(evidence["sentence"].split()) <= 1.5 * len(target.text.split()), evidence


def test_a_cache_split_by_an_older_release_is_split_again_without_asr(fluent, tmp_path):
    video = tmp_path / "talk.mp4"
    shutil.copy(fluent.video, video)
    shutil.copy(cache.sidecar_path(Path(fluent.video)), cache.sidecar_path(video))
    idx = cached(video)
    # an older release's cache: its transcript id names the older splitting, its sentences
    # are one per topic, and one word is misheard so that a new transcript would show
    transcript = idx.meta["models"]["transcript"]
    assert f":{ASR_SPLIT}" in transcript
    meta = {**idx.meta, "models": {**idx.meta["models"],
                                   "transcript": transcript.replace(f":{ASR_SPLIT}", ":pauses2")}}
    words = [str(w) for w in idx.word_text]
    k = next(i for i, w in enumerate(words) if w.lower().startswith("jupiter"))
    words[k] = "Jubiter."
    halves = [(0, len(idx.sent_start) // 2), (len(idx.sent_start) // 2, len(idx.sent_start))]
    merged = {
        "sent_start": np.array([idx.sent_start[a] for a, _ in halves]),
        "sent_end": np.array([idx.sent_end[b - 1] for _, b in halves]),
        "sent_text": np.array([" ".join(idx.sent_text[a:b]) for a, b in halves]),
        "sent_emb": np.stack([idx.sent_emb[a:b].mean(0) for a, b in halves]),
        "sent_speaker": np.array(["S1", "S1"]),
    }
    cache.save(cache.sidecar_path(video), meta,
               {**idx.arrays, **merged, "word_text": np.array(words)})

    proc = run_cli("index", video, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "sentences made again from its transcript" in proc.stderr
    new = cached(video)
    assert new.meta["models"]["transcript"] == transcript
    assert len(new.sent_start) == len(idx.sent_start)
    assert any("Jubiter" in t for t in new.sent_text)  # the kept words, not a new transcript
    assert new.meta["generation"] != idx.meta["generation"]  # library rows are replaced
    proc = run_cli("index", video, "-v")
    assert "0 indexed, 1 up to date" in proc.stderr, proc.stderr


def test_a_cache_whose_pauses_an_older_release_missed_is_mended_without_asr(noisy, tmp_path):
    video = tmp_path / "talk.mp4"
    shutil.copy(noisy.video, video)
    shutil.copy(cache.sidecar_path(Path(noisy.video)), cache.sidecar_path(video))
    idx = cached(video)
    assert idx.meta["pauses"] == PAUSES and len(idx.pauses) >= 10
    # as the release before measured it: no pause over the noise, so one sentence per topic
    meta = {k: v for k, v in idx.meta.items() if k != "pauses"}
    old = {"pauses": np.zeros((0, 2)), "silences": np.zeros((0, 2)),
           "sent_start": idx.sent_start[[0, -1]], "sent_end": idx.sent_end[[0, -1]],
           "sent_text": np.array(["first topic", "second topic"]),
           "sent_emb": idx.sent_emb[[0, -1]], "sent_speaker": np.array(["S1", "S1"])}
    cache.save(cache.sidecar_path(video), meta, {**idx.arrays, **old})

    proc = run_cli("index", video, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "pauses measured again" in proc.stderr, proc.stderr
    new = cached(video)
    assert new.meta["pauses"] == PAUSES
    assert np.array_equal(new.pauses, idx.pauses) and len(new.sent_start) == len(idx.sent_start)
    assert list(new.word_text) == list(idx.word_text)


INTRO = 20.0  # s of music before the call


@pytest.fixture(scope="module")
def podcast(tmp_path_factory):
    """The tests' sales call (sound only) after 20 s of intro music, the music going on
    quietly under the speech and loud again for 15 s after it."""
    folder = tmp_path_factory.mktemp("podcast")
    conv = make_conversation(folder / "call.mp4")
    audio = folder / "call.m4a"
    add_music(conv.video, audio, conv.duration, intro=INTRO)
    proc = run_cli("index", audio)
    assert proc.returncode == 0, proc.stderr
    return conv, audio


def test_music_around_a_call_is_no_speaker_and_takes_no_word(podcast):
    conv, audio = podcast
    idx = cached(audio)
    # the intro and outro were a fourth "speaker", S1, and the call's first word "Thanks"
    # was timed at 0.0 s, in the music, where the VAD had taken a note for speech
    assert idx.meta["speaker_count"] == 3, list(zip(idx.turns.tolist(), idx.turn_speaker))
    first, last = conv.turns[0].start + INTRO, conv.turns[-1].end + INTRO
    assert idx.turns[0][0] >= first - 0.6 and idx.turns[-1][1] <= last + 0.6
    assert idx.sent_start[0] >= first - 0.6 and idx.sent_end[-1] <= last + 0.6
    assert idx.sent_text[0].startswith("Thanks for joining"), idx.sent_text[:2]
    names = {"A": "S1", "B": "S2", "C": "S3"}
    for t in conv.turns:
        mid = (t.start + t.end) / 2 + INTRO
        k = int(np.searchsorted(idx.turns[:, 0], mid, "right")) - 1
        assert idx.turns[k][0] <= mid <= idx.turns[k][1] and idx.turn_speaker[k] == names[t.speaker]


def test_applause_between_subjects_ends_the_sentence_before_it(recording, tmp_path):
    # loud pink noise (about -12 dBFS) over the 2 s between the talk's four subjects, 0.2 s
    # of silence left each side: no level calls it a pause, and Whisper ran two subjects'
    # sentences into one across it ("... just after sunset. To bake sourdough bread ...")
    on = "+".join(f"between(t,{a + 0.2:.2f},{b - 0.2:.2f})" for a, b in recording.silences)
    clapped = remix(recording, tmp_path / "applause.mp4",
                    f"anoisesrc=d={recording.duration + 1:.1f}:c=pink:a=0.5:seed=3,"
                    f"volume=enable='not({on})':volume=0[n];"
                    "[0:a][n]amix=inputs=2:duration=first:normalize=0[a]")
    idx = cached(clapped.video)
    spans = list(recording.topics.values())
    across = [str(t) for a, b, t in zip(idx.sent_start, idx.sent_end, idx.sent_text)
              if sum(min(b, y) - max(a, x) > 0.5 for x, y in spans) > 1]
    assert across == [], across
    assert len(idx.sent_start) >= len(recording.sentences) - 3
    assert idx.meta["speaker_count"] == 1
