"""Calibrated confidence and "no match": the shipped calibration on the generated talk (four
topics, known sentences), paraphrases that share no content word with what is said, and
queries about things the talk never mentions."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from clipcut import api, cache
from clipcut.config import load_config
from clipcut.query import confidence
from clipcut.synth import OFF_TOPIC, PARAPHRASES, topic_of

from .conftest import copy_recording, query_json, run_cli

FLOOR = load_config().query.min_confidence


def spoken_stems(recording) -> set[str]:
    return set(confidence.stems(" ".join(s.text for s in recording.sentences)))


def test_paraphrases_share_no_content_word_with_the_talk(recording):
    spoken = spoken_stems(recording)
    for text in PARAPHRASES.values():
        assert not [w for w in confidence.query_words(text) if confidence.stem(w) in spoken], text


@pytest.mark.parametrize("topic", sorted(PARAPHRASES))
def test_paraphrase_is_found_with_confidence(indexed, topic):
    rc, data, err = query_json(indexed.video, PARAPHRASES[topic], "-n", "3", "--no-cut")
    assert rc == 0, err
    top = data["clips"][0]
    a, b = indexed.topics[topic]
    mid = (top["start"] + top["end"]) / 2
    assert a <= mid <= b, (topic, top)
    assert all(0.0 <= c["confidence"] <= 1.0 and not c["weak"] for c in data["clips"])
    # best clip first; evidence names a sentence of the clip
    assert top["evidence"]["sentence"] in top["text"]
    # query words heard in the clip (none are in the script; the ASR may split a word)
    assert set(top["evidence"]["words"]) <= set(confidence.query_words(PARAPHRASES[topic]))


@pytest.mark.parametrize("text", OFF_TOPIC)
def test_off_topic_query_gets_exit_1(indexed, text):
    rc, data, _ = query_json(indexed.video, text, "--no-cut")
    assert rc == 1 and data["status"] == "no_match" and data["clips"] == []


def test_all_keeps_weak_clips_marked_and_still_exits_1(indexed, tmp_path):
    rc, data, err = query_json(indexed.video, OFF_TOPIC[0], "--all", "-n", "3",
                               "-o", tmp_path / "clips")
    assert rc == 1 and data["status"] == "no_match", err
    assert data["clips"] and all(c["weak"] and c["confidence"] < FLOOR for c in data["clips"])
    assert "min-confidence" in err
    # --all cuts what it shows: people asked to look anyway
    assert all(Path(c["file"]).exists() for c in data["clips"])


@pytest.mark.parametrize("text", ["price objection and discount", PARAPHRASES["cooking"]])
def test_clip_list_does_not_pad_itself(indexed, text):
    """Asked for 10 clips of a two-minute talk, the default returns the confident ones only;
    --all adds the weak ones, marked."""
    rc, default, _ = query_json(indexed.video, text, "-n", "10", "--no-cut")
    rc_all, every, _ = query_json(indexed.video, text, "-n", "10", "--no-cut", "--all")
    assert rc == 0 and rc_all == 0
    assert 1 <= len(default["clips"]) < 10
    assert all(c["confidence"] >= FLOOR and not c["weak"] for c in default["clips"])
    # weak: what the default leaves out (under the floor, or carried by its neighbours)
    assert all(c["weak"] for c in every["clips"] if c["confidence"] < FLOOR)
    strong = [(c["start"], c["end"]) for c in every["clips"] if not c["weak"]]
    assert strong == [(c["start"], c["end"]) for c in default["clips"]]


def test_all_fills_the_list_with_clips_carried_by_their_neighbours(indexed):
    """A span whose own sentences match under `relative_own` of the best one's is left out
    by default; --all lists it (weak) when the list is short of -n."""
    cfg = load_config()
    strict = cfg.with_section("query", relative_own=1.0, continuity=1.5)  # only the best span counts
    text = "price objection and discount"
    default = api.search(Path(indexed.video), text, strict, 4)
    every = api.search(Path(indexed.video), text, strict, 4, keep_weak=True)
    loose = api.search(Path(indexed.video), text, cfg, 4, keep_weak=True)
    assert len(default.clips) == 1 and len(every.clips) == len(loose.clips) == 4
    assert [(c.start, c.end) for c in every.clips if not c.weak] == \
        [(c.start, c.end) for c in default.clips]
    a, b = indexed.topics["pricing"]
    assert a <= (default.clips[0].start + default.clips[0].end) / 2 <= b


@pytest.mark.parametrize("text", ["pricing objection", PARAPHRASES["football"]])
def test_a_short_talks_other_subjects_are_weak(indexed, text):
    """In a two-minute talk on four subjects, a clip of another subject comes with about the
    confidence of the answer (the calibration knows hour-long meetings): it is weak unless
    its own sentences stand out at least half as far as the best clip's; with the rule
    off, the default output shows another subject."""
    want = "pricing" if text == "pricing objection" else "football"
    cfg = load_config()
    shown = api.search(Path(indexed.video), text, cfg, 5).clips
    assert shown and {topic_of(c.start, c.end, indexed.topics) for c in shown} == {want}
    off = api.search(Path(indexed.video), text, cfg.with_section("query", short_stand_out=0.0), 5)
    assert {topic_of(c.start, c.end, indexed.topics) for c in off.clips} - {want}
    # a long recording is not judged so: the rule needs the talk to be shorter than `short`
    # (which also lets pseudo-relevance feedback in, so compare with the rule off there)
    longer = cfg.with_section("query", short=60.0)
    long = api.search(Path(indexed.video), text, longer, 5)
    unjudged = api.search(Path(indexed.video), text,
                          longer.with_section("query", short_stand_out=0.0), 5)
    assert [(c.start, c.end) for c in long.clips] == [(c.start, c.end) for c in unjudged.clips]
    assert {topic_of(c.start, c.end, indexed.topics) for c in long.clips} - {want}


def test_evidence_names_the_query_words_heard(indexed):
    rc, data, _ = query_json(indexed.video, "price objection and discount", "-n", "1",
                             "--no-cut")
    assert rc == 0
    top = data["clips"][0]
    a, b = indexed.topics["pricing"]
    assert a <= (top["start"] + top["end"]) / 2 <= b
    assert {"price", "discount"} <= set(top["evidence"]["words"])
    assert top["evidence"]["sentence"] in top["text"]


def test_min_confidence_floor_moves_the_answer(indexed):
    text = PARAPHRASES["football"]
    rc, data, _ = query_json(indexed.video, text, "--no-cut", "-n", "1")
    assert rc == 0
    conf = data["clips"][0]["confidence"]
    rc, data, _ = query_json(indexed.video, text, "--no-cut", "-n", "1",
                             "--min-confidence", f"{min(conf + 0.01, 1.0):.4f}")
    assert rc == 1 and data["clips"] == []
    proc = run_cli("query", indexed.video, text, "--no-cut", "--min-confidence", "1.5")
    assert proc.returncode == 2 and "min_confidence" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_calibrator_is_a_logistic_model_over_the_signals(tmp_path):
    path = tmp_path / "cal.json"
    confidence.save(path, ["peak", "base"], [0.0, 0.5], [1.0, 0.5], [0.0, 1.0], -1.0,
                    {"note": "hand-set"})
    cal = confidence.load(str(path))
    x = np.zeros(len(confidence.SIGNALS))
    x[confidence.SIGNALS.index("base")] = 1.0      # (1 - 0.5) / 0.5 * 1 - 1 = 0
    assert cal.probability(x)[0] == pytest.approx(0.5)
    x[confidence.SIGNALS.index("peak")] = 7.0      # peak's coefficient is 0
    x[confidence.SIGNALS.index("base")] = 1.5      # 2 - 1 = 1
    assert cal.probability(x)[0] == pytest.approx(1 / (1 + np.exp(-1)))
    doc = json.loads(path.read_text())
    doc["features"] = ["peak", "no such signal"]
    path.write_text(json.dumps(doc))
    confidence.load.cache_clear()
    with pytest.raises(Exception, match="does not fit"):
        confidence.load(str(path))


def test_query_words_and_stems():
    assert confidence.query_words("What did the group discuss about the prices of remotes?") == \
        ("prices", "remotes")
    assert confidence.words_in(("prices", "remotes"), "The price of a remote is high") == \
        ["prices", "remotes"]
    assert confidence.words_in(("pricing",), "we priced it") == ["pricing"]


def test_british_and_american_spelling_and_numbers_match_as_one_word():
    """Captions and queries write "colours" and "five years"; the recognizer writes
    "colors" and "5 years". Both sides are matched in one spelling, which joins no two
    different words."""
    from clipcut.query import retrieve
    from clipcut.words import spelling
    asr = "People like colors, and the remote is analyzed at the center for 5 years on disks."
    assert confidence.words_in(("colours", "analysed", "centre", "five", "discs", "budget"), asr) == \
        ["colours", "analysed", "centre", "five", "discs"]
    scores = retrieve.bm25(("colours",), [asr, "The budget is tight this quarter.", "Nothing."])
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert [spelling(w) for w in ("behaviour", "organisation", "travelled", "defence", "catalogue",
                                  "programmes", "twenty")] == \
        ["behavior", "organization", "traveled", "defense", "catalog", "programs", "20"]
    distinct = ("hour", "four", "for", "your", "tour", "flour", "floor", "rise", "raise", "wise",
                "disco", "league", "telling", "one", "on", "ten", "tenth")
    assert len({spelling(w) for w in distinct}) == len(distinct)


def test_word_shortfall_counts_only_what_the_recording_never_comes_near():
    """A recording of ordinary meeting talk (the cohort's own sentences) comes as near any
    query's words as ordinary talk does; take out the sentences nearest the words of one
    query and it falls short of them, the more so the more are taken out, while another
    query's words are as near as before. The shipped calibration trusts a clip less the
    farther its recording falls short."""
    from clipcut.models import load_query_text_model
    from clipcut.query.encoder import QueryEncoder

    encoder = QueryEncoder(load_query_text_model())
    remote = encoder.encode("What did they say about the buttons of the remote control?")
    budget = encoder.encode("the budget for the universities and schools")
    assert remote.word_vectors.shape == (3, 384)  # buttons, remote, control
    assert np.allclose(np.linalg.norm(remote.word_vectors, axis=1), 1.0, atol=1e-5)
    talk = confidence._cohort(None)
    assert confidence.word_shortfall(remote.word_vectors, talk) == 0.0
    assert confidence.word_shortfall(budget.word_vectors, talk) == 0.0
    nearest = np.argsort((talk @ remote.word_vectors.T).max(1))
    shortfalls = [confidence.word_shortfall(remote.word_vectors, talk[nearest[:-k]])
                  for k in (100, 200, 400)]
    assert 0 < shortfalls[0] < shortfalls[1] < shortfalls[2]
    assert confidence.word_shortfall(budget.word_vectors, talk[nearest[:-400]]) == 0.0
    # one-word fragments ("Buttons?", "Remote.") come as near a lone query word as a sentence
    # about it would; the cohort holds sentences of 6 words and more, so only those count
    far = talk[nearest[:-400]]
    fragments = encoder.model.encode(["Buttons?", "Remote.", "Control."], normalize_embeddings=True)
    texts = ["a sentence of ordinary meeting talk, six words or more"] * len(far) + \
        ["Buttons?", "Remote.", "Control."]
    with_fragments = np.vstack([far, fragments]).astype(np.float32)
    assert confidence.word_shortfall(remote.word_vectors, with_fragments) == 0.0
    assert confidence.word_shortfall(remote.word_vectors, with_fragments,
                                     confidence.full_sentences(texts)) == \
        pytest.approx(shortfalls[2])
    # no words, no sentences, or another space (the multilingual encoder's 384-d is not
    # the cohort's, but a 512-d model is caught): nothing to judge
    assert encoder.encode("what was said?").word_vectors is None
    assert confidence.word_shortfall(None, talk) == 0.0
    assert confidence.word_shortfall(remote.word_vectors, talk[:0]) == 0.0
    assert confidence.word_shortfall(np.ones((2, 512), np.float32), talk) == 0.0

    cal = confidence.load()
    assert "word_shortfall" in cal.features
    x = np.zeros((3, len(confidence.SIGNALS)))
    x[:, confidence.SIGNALS.index("word_shortfall")] = [0.0, 0.05, 0.2]
    p = cal.probability(x)
    assert p[0] > p[1] > p[2]


def test_standing_sees_full_sentences_above_ordinary_talk():
    """A recording of 422 sentences of ordinary meeting talk (every fifth of the cohort's)
    stands where as many ordinary sentences would: ``long_peak`` and ``broad_match`` about 0.
    Five full sentences about a playground put its best full sentences well above, and its
    best 4 % a little; twenty put both far above. The same words only as one-word fragments
    ("Playground?") raise ``broad_match`` and leave ``long_peak`` where it was: what a query
    from another kind of meeting whose words collide with this one looks like, and the
    shipped calibration trusts it less, while it trusts full sentences above ordinary talk
    more."""
    from clipcut.models import load_query_text_model
    from clipcut.query.encoder import QueryEncoder

    encoder = QueryEncoder(load_query_text_model())
    query = encoder.encode("plans for the new playground in the park")
    assert query.plain.shape == (384,)
    assert np.isclose(np.linalg.norm(query.plain), 1.0, atol=1e-5)
    talk = confidence._cohort(None)[::5]
    texts = ["a sentence of ordinary meeting talk, six words or more"] * len(talk)
    about = ["The new playground will have swings and a climbing frame.",
             "We looked at three designs for the playground in the park.",
             "Children and parents asked for a bigger playground near the pond.",
             "The park's playground should open before the summer holidays.",
             "Building the playground costs less than we feared last year."]
    scraps = ["Playground?", "Park.", "Swings."] * 4

    def standing(extra):
        emb = np.vstack([talk, encoder.model.encode(extra, normalize_embeddings=True)]) \
            if extra else talk
        return confidence.standing(query.plain, emb.astype(np.float32),
                                   confidence.full_sentences(texts + extra))

    ordinary, five, twenty, fragments = standing([]), standing(about), standing(about * 4), \
        standing(scraps)
    assert abs(ordinary[0]) < 0.03 and abs(ordinary[1]) < 0.03
    assert five[0] > 0.15 and twenty[0] > five[0] + 0.15
    assert ordinary[1] + 0.05 < five[1] < twenty[1] - 0.15
    # fragments are not of the cohort's kind: the long peak stays where it was
    assert fragments[0] == pytest.approx(ordinary[0])
    assert fragments[1] > ordinary[1] + 0.1
    # no plain vector (the multilingual encoder's queries) or no sentences: nothing to judge
    assert confidence.standing(None, talk, confidence.full_sentences(texts)) == (0.0, 0.0)
    assert confidence.standing(query.plain, talk[:0], np.zeros(0, bool)) == (0.0, 0.0)

    cal = confidence.load()
    assert {"long_peak", "broad_match"} <= set(cal.features)
    x = np.zeros((3, len(confidence.SIGNALS)))
    x[:, confidence.SIGNALS.index("long_peak")] = [0.0, five[0], fragments[0]]
    x[:, confidence.SIGNALS.index("broad_match")] = [0.0, five[1], fragments[1]]
    p = cal.probability(x)
    assert p[1] > p[0] > p[2]


def test_profile_match_follows_what_the_recording_is_about():
    """Two recordings written here, a design meeting about a remote control and a committee
    hearing about school funding, and a question from each: a question leans toward the
    same kinds of meeting talk (cohort sentences) as the recording it belongs to, and away
    from the other's; the shipped calibration trusts that, and a signal not measured (a
    short talk's) counts as the train average."""
    from clipcut.models import load_query_text_model
    from clipcut.query.encoder import QueryEncoder

    encoder = QueryEncoder(load_query_text_model())
    design = ["The remote control needs fewer buttons than the one we have now.",
              "A rubber case would make the remote feel better in the hand.",
              "Our industrial designer proposed a curved shape with a scroll wheel.",
              "The battery and the chip set take most of the twelve euro budget.",
              "Users said they lose the remote, so it should beep when called.",
              "Marketing wants the company colours on the front of the device.",
              "A speech recognition chip would cost too much for this product.",
              "We agreed to present the prototype at the next meeting."]
    hearing = ["The committee will now take evidence from the education minister.",
               "Schools in rural areas have lost a fifth of their funding since last year.",
               "Members asked how the grant for teachers' training will be spent.",
               "The minister said the budget for school buildings is under review.",
               "Head teachers wrote to the committee about larger class sizes.",
               "The report recommends a fairer formula for funding local schools.",
               "A member questioned the cost of the new qualifications.",
               "The committee will publish its recommendations in the spring."]
    rooms = {name: encoder.model.encode(texts, normalize_embeddings=True).astype(np.float32)
             for name, texts in (("design", design), ("hearing", hearing))}
    every = np.ones(8, bool)
    questions = {"design": "the cost of the parts and the buttons of the remote",
                 "hearing": "what the minister said about money for schools"}
    match = {(q, room): confidence.profile_match(encoder.encode(text).plain, emb, every)
             for q, text in questions.items() for room, emb in rooms.items()}
    for own, other in (("design", "hearing"), ("hearing", "design")):
        assert match[own, own] > 0.4
        assert match[own, own] > match[own, other] + 0.3
    assert confidence.profile_match(None, rooms["design"], every) == 0.0

    cal = confidence.load()
    assert "profile_match" in cal.features
    col = confidence.SIGNALS.index("profile_match")
    x = np.zeros((3, len(confidence.SIGNALS)))
    x[:, col] = [match["design", "design"], match["design", "hearing"], np.nan]
    p = cal.probability(x)
    assert p[0] > p[1]
    x[2, col] = cal.center[cal.features.index("profile_match")]
    assert cal.probability(x)[2] == pytest.approx(p[2])


def test_shipped_calibration_loads_with_provenance():
    cal = confidence.load()
    assert cal.provenance["data"].startswith("qmsum-train")
    # the default floor is the one the calibration chose on train
    assert cal.provenance["min_confidence"] == FLOOR
    # recordings in other languages: their own calibration and the floor it chose
    other = confidence.load(confidence.PACKAGED_MULTILINGUAL)
    assert other.provenance["min_confidence"] == load_config().query.min_confidence_other
    assert set(cal.features) <= set(confidence.SIGNALS)


def test_folder_query_gives_a_clip_the_confidence_it_has_alone(indexed, tmp_path):
    """Confidence does not depend on what else was ranked: the same moment found across a
    folder (where stage 2 leaves out the surrounding-discussion term) or alone."""
    folder = tmp_path / "calls"
    for name in ("a.mp4", "b.mp4"):
        video = copy_recording(indexed, folder, name)
        shutil.copy(cache.sidecar_path(Path(indexed.video)), cache.sidecar_path(video))
    text = PARAPHRASES["astronomy"]
    rc, alone, _ = query_json(folder / "a.mp4", text, "-n", "1", "--no-cut")
    rc_folder, both, _ = query_json(folder, text, "-n", "3", "--no-cut")
    assert rc == 0 and rc_folder == 0
    a, top = alone["clips"][0], both["clips"][0]
    assert (top["start"], top["end"]) == (a["start"], a["end"])
    assert top["confidence"] == a["confidence"]
    assert Path(top["video"]).name in ("a.mp4", "b.mp4")


def test_no_match_line_names_the_floor_of_the_recordings_searched():
    from dataclasses import replace

    from clipcut.cli import _floors
    opt = replace(load_config().query, min_confidence=0.3, min_confidence_other=0.2)
    assert _floors(opt, ["en"]) == "0.3"
    assert _floors(opt, ["es", "de"]) == "0.2"
    assert _floors(opt, ["en", "es"]) == "0.3, 0.2 for recordings in other languages"
