"""Speakers and conversation-aware clips on a generated sales call: three espeak-ng voices
taking turns, questions answered by another speaker, exact turn times (clipcut.synth)."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from clipcut import cache
from clipcut.config import load_config
from clipcut.index import speakers
from clipcut.query import turns
from clipcut.synth import make_conversation
from clipcut.types import Sentence

from .conftest import query_json, run_cli

BUDGET = "budget approved by the finance director for the first year"


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    folder = tmp_path_factory.mktemp("call")
    conv = make_conversation(folder / "call.mp4")
    proc = run_cli("index", conv.video)
    assert proc.returncode == 0, proc.stderr
    return conv


def cached(video) -> cache.Index:
    return cache.load(cache.sidecar_path(Path(video)))


def test_diarization_finds_the_speakers_and_their_turns(call, tmp_path):
    idx = cached(call.video)
    assert idx.meta["speaker_method"] == "voices" and idx.meta["speaker_count"] == 3
    found = [(float(a), float(b), str(s)) for (a, b), s in zip(idx.turns, idx.turn_speaker)]
    # labels by first appearance: the seller speaks first, then the customer, then security
    names = {"A": "S1", "B": "S2", "C": "S3"}
    assert len(found) == len(call.turns)
    for truth, (a, b, who) in zip(call.turns, found):
        assert who == names[truth.speaker]
        assert abs(a - truth.start) < 0.3 and abs(b - truth.end) < 0.3
    # every sentence carries its speaker: checked on the true sentences (captions without
    # names, so the turns still come from the audio), since the ASR may merge two turns'
    # sentences or, under load, drop the last seconds of a chunk
    video = tmp_path / "call.mp4"
    shutil.copy(call.video, video)
    vtt = tmp_path / "plain.vtt"
    vtt.write_text(call.vtt())
    proc = run_cli("index", video, "--captions", vtt)
    assert proc.returncode == 0, proc.stderr
    idx = cached(video)
    assert idx.meta["speaker_method"] == "voices"
    wrong = []
    for t in call.turns:
        for s in t.sentences:
            i = int(np.searchsorted(idx.sent_start, (s.start + s.end) / 2, "right")) - 1
            if idx.sent_speaker[i] != names[t.speaker]:
                wrong.append(s.text)
    assert wrong == []


def test_a_clip_about_an_answer_carries_its_question(call):
    rc, data, err = query_json(call.video, BUDGET, "-n", "1", "--no-cut")
    assert rc == 0, err
    clip = data["clips"][0]
    question, answer = call.turns[2], call.turns[3]
    assert clip["start"] <= question.start + 0.3 and clip["end"] >= answer.end - 0.5
    assert [t["speaker"] for t in clip["turns"]] == ["S1", "S2"] == clip["speakers"]
    assert clip["turns"][0]["text"].endswith("?")
    assert clip["turns"][0]["start"] >= clip["start"] and clip["turns"][-1]["end"] <= clip["end"]


def test_speaker_filter_keeps_clips_where_that_speaker_talks(call):
    rc, data, err = query_json(call.video, "warehouses", "--speaker", "s3", "-n", "3", "--no-cut")
    assert rc == 0, err
    assert data["clips"] and all("S3" in c["speakers"] for c in data["clips"])
    # the filter did something: unfiltered, clips without that speaker come too (--all: in a
    # one-minute call the default keeps only the clips that stand out, see test_confidence)
    rc, data, _ = query_json(call.video, "warehouses", "-n", "3", "--no-cut", "--all")
    assert any("S3" not in c["speakers"] for c in data["clips"])


def test_unknown_speaker_is_a_one_line_error(call):
    proc = run_cli("query", call.video, "warehouses", "--speaker", "S9", "--no-cut")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "clipcut: error: --speaker S9: no such speaker here (speakers: S1, S2, S3)"]


def test_caption_voice_tags_name_the_speakers(call, tmp_path):
    video = tmp_path / "call.mp4"
    shutil.copy(call.video, video)
    vtt = tmp_path / "names.vtt"
    vtt.write_text(call.vtt({"A": "Alice", "B": "Bob", "C": "Chen"}))
    rc, data, err = query_json(video, BUDGET, "--captions", vtt, "-n", "1", "--no-cut")
    assert rc == 0, err
    clip = data["clips"][0]
    assert clip["speakers"] == ["Alice", "Bob"]
    assert clip["turns"][0]["text"] == call.turns[2].sentences[0].text
    assert cached(video).meta["speaker_method"] == "captions"
    rc, data, err = query_json(video, "encrypted backups", "--captions", vtt,
                               "--speaker", "chen", "--no-cut")
    assert rc == 0 and all("Chen" in c["speakers"] for c in data["clips"]), err


def test_cache_made_without_speakers_gets_them_without_a_rebuild(call, tmp_path):
    video = tmp_path / "call.mp4"
    shutil.copy(call.video, video)
    shutil.copy(cache.sidecar_path(Path(call.video)), cache.sidecar_path(video))
    idx = cached(video)
    # make it a cache indexed with speakers off ([speakers] enabled = false)
    meta = {**idx.meta, "speakers": {"enabled": False}, "speaker_method": "none",
            "speaker_count": 0}
    arrays = {**idx.arrays, "turns": np.zeros((0, 2)), "turn_speaker": np.zeros(0, np.str_),
              "sent_speaker": np.full(len(idx.sent_start), "", dtype=np.str_)}
    cache.save(cache.sidecar_path(video), meta, arrays)
    proc = run_cli("index", video, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "speaker turns added" in proc.stderr
    new = cached(video)
    assert new.meta["schema"] == cache.SCHEMA and new.meta["generation"] == idx.meta["generation"]
    assert np.array_equal(new.sent_emb, idx.sent_emb)
    assert list(new.sent_speaker) == list(idx.sent_speaker)


def test_monologue_is_one_speaker(indexed):
    idx = cached(indexed.video)
    assert idx.meta["speaker_count"] == 1 and set(idx.sent_speaker.tolist()) == {"S1"}


# --- turn-following boundaries on hand-made sentence arrays -------------------------------

class _Idx:
    def __init__(self, rows):
        self.sent_start = np.array([r[0] for r in rows], float)
        self.sent_end = np.array([r[1] for r in rows], float)
        self.sent_speaker = np.array([r[2] for r in rows], dtype=np.str_)
        self.sent_text = np.array([r[3] for r in rows], dtype=np.str_)


OPT = load_config().query  # max_len 30, turn_reach 10, turn_stretch 15, question_gap 20, radius 5

ROWS = [(0, 4, "S1", "Welcome."),                        # 0
        (5, 9, "S1", "Tell me about your plans."),       # 1
        (9.5, 13, "S1", "What budget do you have?"),     # 2  question ends turn
        (14, 18, "S2", "We have eighty thousand."),      # 3  answer starts
        (18.5, 22, "S2", "Half is for training."),       # 4
        (22.5, 26, "S2", "The rest for licenses."),      # 5
        (27, 30, "S1", "Thanks."),                       # 6
        (31, 35, "S2", "And one more thing."),           # 7
        (35.5, 60, "S2", "A very long story.")]          # 8


def test_clip_opening_with_an_answer_takes_the_question_turn():
    assert turns.follow(_Idx(ROWS), 3, 5, OPT) == (0, 5)  # the question's turn began 9.5 s earlier


def test_clip_starting_inside_a_turn_starts_at_the_turn():
    assert turns.follow(_Idx(ROWS), 4, 5, OPT) == (0, 5)  # turn start, then its question
    no_q = [r if r[3] != "What budget do you have?" else (9.5, 13, "S1", "I see.") for r in ROWS]
    assert turns.follow(_Idx(no_q), 4, 5, OPT) == (3, 5)


def test_turn_start_too_far_back_or_too_long_is_not_taken():
    rows = [(0, 3, "S1", "Hi."), (3.5, 20, "S2", "Long."), (20.5, 24, "S2", "Point."),
            (24.5, 28, "S2", "End.")]
    assert turns.follow(_Idx(rows), 2, 3, OPT) == (2, 3)  # its turn began 17 s earlier
    # ... but a question that ended within question_gap is still taken in
    rows[0] = (0, 3, "S1", "Hi?")
    assert turns.follow(_Idx(rows), 2, 3, OPT) == (0, 3)
    # when question and clip exceed max_len + turn_stretch, the clip ends earlier
    rows = [(0, 10, "S1", "Why?"), (10.5, 22, "S2", "A."), (22.5, 30, "S2", "B."),
            (30.5, 40, "S2", "C."), (40.5, 50, "S2", "D."), (50.5, 60, "S2", "E.")]
    assert turns.follow(_Idx(rows), 2, 5, OPT) == (0, 3)


def test_turn_start_that_makes_the_clip_too_long_moves_its_end_back():
    rows = [(0, 5, "S2", "We start."), (5.5, 10, "S2", "Then more."), (10.5, 25, "S2", "Long."),
            (25.5, 40, "S2", "Longer."), (40.5, 48, "S2", "End.")]
    # from the turn's start to the clip's end is 48 s > max_len + turn_stretch (45 s)
    assert turns.follow(_Idx(rows), 1, 4, OPT) == (0, 3)


def test_a_question_turn_is_taken_whole_when_it_fits():
    rows = [(0, 6, "S1", "Some context."), (6.5, 12, "S1", "More context."),
            (12.5, 14, "S1", "What now?"), (14.5, 20, "S2", "This."), (20.5, 26, "S2", "That.")]
    # the turn began 12.5 s before its question (more than turn_reach), and all of it fits
    assert turns.follow(_Idx(rows), 3, 4, OPT) == (0, 4)
    # when it does not fit, its last sentences within turn_reach
    rows[0] = (-30, 6, "S1", "A long preamble.")
    assert turns.follow(_Idx(rows), 3, 4, OPT) == (1, 4)


def test_the_question_turns_start_is_taken_over_the_clips_last_seconds():
    rows = [(0, 2, "S1", "Okay."), (2.3, 12, "S1", "How is the rollout going?"),
            (12.5, 20, "S2", "Slowly."), (20.5, 30, "S2", "Two sites are live."),
            (30.5, 46, "S2", "The rest wait for hardware.")]
    # from "Okay." to the clip's end is 46 s (> 45): the end moves back, 17.5 s of the answer stay
    assert turns.follow(_Idx(rows), 2, 4, OPT) == (0, 3)
    # when that would leave under min_len (8 s) of it, the clip starts at the question itself
    rows[2:] = [(12.5, 19, "S2", "Slowly."), (19.5, 46, "S2", "Two sites are live, the rest wait.")]
    assert turns.follow(_Idx(rows), 2, 3, OPT) == (1, 3)


def test_clip_ends_at_the_end_of_its_turn_within_the_snap_radius():
    assert turns.follow(_Idx(ROWS), 7, 7, OPT) == (7, 7)   # next sentence ends 25 s later
    rows = ROWS[:6] + [(26.5, 29, "S2", "Done.")]
    assert turns.follow(_Idx(rows), 3, 5, OPT) == (0, 6)


def test_clip_does_not_end_with_another_speakers_question():
    rows = ROWS[:6] + [(26.5, 29, "S1", "Any other questions?")]
    assert turns.follow(_Idx(rows), 3, 6, OPT) == (0, 5)
    # unless the clip would fall under min_len without it
    short = [(0, 4, "S1", "Yes, we can."), (4.5, 6, "S2", "Why not earlier?")]
    assert turns.follow(_Idx(short), 0, 1, OPT) == (0, 1)


EXCHANGE = [(0, 4, "S2", "We run a logistics company."),             # 0
            (4.5, 8, "S2", "With warehouses in three countries."),     # 1
            (9, 12, "S1", "How much money have you set aside?"),       # 2  question
            (12.5, 16, "S2", "Our finance director approved it."),     # 3  best sentence
            (16.5, 20, "S2", "Half is for training."),                 # 4
            (20.5, 24, "S2", "The rest for licenses.")]                # 5


def test_a_span_opens_at_the_question_its_best_sentence_answers():
    # an earlier exchange before the question (9 s) is left out; the end takes in more of
    # the answer so that the clip stays min_len (8 s) long
    assert turns.open_at_question(_Idx(EXCHANGE), 0, 3, 3, 8.0, 5.0) == (2, 4)
    # a head within the snap radius (4.5 s) is snapping noise: kept
    assert turns.open_at_question(_Idx(EXCHANGE), 1, 3, 3, 8.0, 5.0) == (1, 3)
    # not a question, or the best sentence is not in the answer: nothing moves
    plain = EXCHANGE[:2] + [(9, 12, "S1", "We set money aside.")] + EXCHANGE[3:]
    assert turns.open_at_question(_Idx(plain), 0, 3, 3, 8.0, 5.0) == (0, 3)
    assert turns.open_at_question(_Idx(EXCHANGE), 0, 3, 1, 8.0, 5.0) == (0, 3)


def test_without_speakers_nothing_moves():
    idx = _Idx(ROWS)
    idx.sent_speaker = np.array([], dtype=np.str_)
    assert turns.follow(idx, 3, 5, OPT) == (3, 5)


def test_clip_turns_group_sentences_by_speaker():
    out = turns.clip_turns(_Idx(ROWS), 1, 4)
    assert [(t["speaker"], t["start"], t["end"]) for t in out] == [("S1", 5.0, 13.0),
                                                                    ("S2", 14.0, 22.0)]
    assert out[1]["text"] == "We have eighty thousand. Half is for training."


def test_caption_turns_carry_the_last_named_speaker():
    cues = [(0, 1, "a", "Ann"), (1, 2, "b", ""), (2, 3, "c", "Ben"), (3, 4, "d", "Ann")]
    assert speakers.from_cues(cues) == [speakers.Turn(0, 2, "Ann"), speakers.Turn(2, 3, "Ben"),
                                        speakers.Turn(3, 4, "Ann")]
    assert speakers.from_cues([(0, 1, "a", "")]) == []


def test_sentences_take_the_speaker_they_overlap_most():
    t = [speakers.Turn(0, 5, "S1"), speakers.Turn(5.5, 9, "S2")]
    got = speakers.label_sentences(np.array([0.5, 4.0, 9.5]), np.array([3.0, 7.0, 10.0]), t)
    assert got.tolist() == ["S1", "S2", "S2"]


def test_turns_keep_only_the_transcribed_speech():
    T, S = speakers.Turn, Sentence
    # a diarized "speaker" for an intro jingle (0-20 s), one whose turn only touches the
    # first sentence (0.5 s), then two voices, the first turn running 5 s past its last
    # sentence (more music): the jingle's turn and speaker are gone, an edge with more
    # than TURN_GAP s of no sentence is cut, and the labels go by first appearance again
    found = [T(0, 20, "S1"), T(20, 21.5, "S2"), T(21.5, 34, "S3"), T(35, 40, "S4"),
             T(41, 45, "S3")]
    sents = [S(21.0, 24.0, "Thanks for joining."), S(24.5, 29.0, "Let us begin."),
             S(35.5, 39.5, "Sure."), S(41.2, 44.0, "Good.")]
    assert speakers.within_speech(found, sents) == [T(21.5, 29.0, "S1"), T(35, 40, "S2"),
                                                     T(41, 45, "S1")]
    assert speakers.within_speech([], sents) == []
