import numpy as np
import pytest

from clipcut.errors import MediaError
from clipcut.index.sentences import split_sentences
from clipcut.index.transcript import parse_captions, words_from_cues
from clipcut.types import Word

VTT = """WEBVTT

1
00:00:01.000 --> 00:00:03.000
<v Anna>Hello there. How are

00:00:03.500 --> 00:00:05.500
you today?
"""

SRT = """1
00:00:01,000 --> 00:00:02,000
- First line.

2
00:01:02,500 --> 00:01:04,000
Second <i>line</i>.
"""


def test_parse_vtt_strips_tags_and_keeps_the_voice():
    assert parse_captions(VTT) == [(1.0, 3.0, "Hello there. How are", "Anna"),
                                   (3.5, 5.5, "you today?", "")]


def test_parse_srt_with_commas_and_dashes():
    assert parse_captions(SRT) == [(1.0, 2.0, "First line.", ""), (62.5, 64.0, "Second line.", "")]


def test_speaker_names_from_voice_tags_and_name_prefixes():
    text = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v.loud Dr. Lee>Where is it?</v>\n\n"
            "00:00:02.000 --> 00:00:03.000\nJOHN SMITH: At 10:30, upstairs.\n\n"
            "00:00:03.000 --> 00:00:04.000\n>> Maria: Thanks.\n\n"
            "00:00:04.000 --> 00:00:05.000\nit is 10:30: late\n")
    cues = parse_captions(text)
    assert [(c.speaker, c.text) for c in cues] == [
        ("Dr. Lee", "Where is it?"), ("JOHN SMITH", "At 10:30, upstairs."), ("Maria", "Thanks."),
        ("", "it is 10:30: late")]


def test_what_captions_say_of_sounds_is_not_text():
    text = ("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n[Music]\n\n"
            "00:00:05.000 --> 00:00:08.000\n>> Welcome back to the show. (APPLAUSE)\n\n"
            "00:00:08.000 --> 00:00:12.000\n♪ la la la ♪\n\n"
            "00:00:12.000 --> 00:00:15.000\n[LAUGHTER] >> So the budget (the second one) was "
            "approved (audience laughs). (speaking French) (speaking of it)\n")
    assert [(c.start, c.text) for c in parse_captions(text)] == [
        (5.0, "Welcome back to the show."),
        (12.0, "So the budget (the second one) was approved. (speaking of it)")]
    # a file of sound notes only is captions with no speech, not a malformed file
    assert parse_captions("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n[Music]\n") == []


@pytest.mark.parametrize("text", ["", "WEBVTT\n\n", "not captions at all", "1\nbad --> times\nx"])
def test_empty_or_malformed_captions_raise(text):
    with pytest.raises(MediaError):
        parse_captions(text, "x.vtt")


def test_cues_become_sentences_across_cue_boundaries():
    words = words_from_cues(parse_captions(VTT))
    sents = split_sentences(words)
    assert [s.text for s in sents] == ["Hello there.", "How are you today?"]
    assert sents[0].start == 1.0
    assert sents[1].end == 5.5
    # "How" starts inside the first cue, by character position
    assert 2.0 < sents[1].start < 3.0


def test_cues_past_the_duration_are_dropped_or_clipped():
    words = words_from_cues([(1.0, 3.0, "a b"), (9.0, 12.0, "c d"), (20.0, 21.0, "e")], duration=10.0)
    assert [w.text for w in words] == ["a", "b", "c", "d"]
    assert max(w.end for w in words) <= 10.0


def test_sentences_split_on_long_pause_and_length():
    words = [Word(0, 0.5, "one"), Word(0.6, 1.0, "two"), Word(4.0, 4.5, "three"),
             Word(4.6, 5.0, "four.")]
    assert [s.text for s in split_sentences(words, max_gap=1.5)] == ["one two", "three four."]
    long = [Word(i, i + 0.5, "w") for i in range(40)]
    assert all(s.end - s.start <= 30 for s in split_sentences(long, max_duration=30.0))


def test_abbreviations_do_not_end_sentences():
    words = [Word(0, 1, "Dr."), Word(1, 2, "Smith"), Word(2, 3, "spoke.")]
    assert [s.text for s in split_sentences(words)] == ["Dr. Smith spoke."]


def test_word_edges_are_pulled_out_of_measured_silences():
    from clipcut.index.sentences import align_to_silences

    # ASR stretched "sugar" and "The" over the pause 84.2-86.2
    words = [Word(82.0, 83.0, "of"), Word(83.1, 85.0, "sugar"), Word(85.0, 86.6, "The"),
             Word(86.7, 87.0, "football")]
    fixed = align_to_silences(words, np.array([[84.2, 86.2]]), 0.8)
    assert fixed[1] == Word(83.1, 84.2, "sugar") and fixed[2] == Word(86.2, 86.6, "The")
    assert [s.text for s in split_sentences(fixed, max_gap=0.8)] == ["of sugar", "The football"]
    # short pauses are left alone
    assert align_to_silences(words, np.array([[84.2, 84.6]]), 0.8) == words


def test_words_starting_inside_the_leading_silence_start_after_it():
    from clipcut.index.sentences import align_to_silences

    words = [Word(0.59, 1.3, "Let's"), Word(1.3, 1.6, "talk.")]
    fixed = align_to_silences(words, np.array([[0.0, 0.98]]), 0.8)
    assert fixed == [Word(0.98, 1.3, "Let's"), Word(1.3, 1.6, "talk.")]


def test_asr_punctuation_ends_a_sentence_only_at_a_pause():
    from clipcut.index.sentences import split_at_pauses

    # "Uh." and "So." are closed by the ASR but spoken straight on; "done." is followed by
    # a 0.4 s pause, "next" by a 1 s one without punctuation
    words = [Word(0.0, 0.3, "Uh."), Word(0.3, 0.6, "So."), Word(0.6, 1.0, "we're"),
             Word(1.0, 1.5, "done."), Word(1.9, 2.2, "Then"), Word(2.2, 2.6, "next"),
             Word(3.6, 4.0, "item")]
    sents = split_at_pauses(words, pause=0.25, long_pause=0.8)
    assert [s.text for s in sents] == ["Uh. So. we're done.", "Then next", "item"]
    assert [(s.start, s.end) for s in sents] == [(0.0, 1.5), (1.9, 2.6), (3.6, 4.0)]


def test_an_overlong_asr_sentence_is_closed_at_its_longest_pause():
    from clipcut.index.sentences import split_at_pauses

    words = [Word(i * 0.5, i * 0.5 + 0.4, "w") for i in range(20)]            # 0.1 s gaps
    words += [Word(10.2 + i * 0.5, 10.6 + i * 0.5, "v") for i in range(30)]   # 0.3 s gap first
    sents = split_at_pauses(words, pause=0.25, long_pause=0.8, max_duration=20.0)
    assert len(sents) == 2 and sents[0].end == 9.9 and sents[1].start == 10.2
    assert all(s.end - s.start <= 20.0 for s in sents)


def test_sentence_edges_move_out_to_the_speech_around_them():
    from clipcut.index.sentences import extend_to_speech
    from clipcut.types import Sentence

    # the ASR dropped "Um," before "so we start" (speech from 2.0) and "today" after it
    # (speech to 4.6); pauses 0-2.0, 4.6-5.4 and 9.0-9.5
    sents = [Sentence(2.6, 4.0, "so we start"), Sentence(5.4, 8.0, "Next one."),
             Sentence(8.1, 8.9, "Then")]
    pauses = np.array([[0.0, 2.0], [4.6, 5.4], [9.0, 9.5]])
    out = extend_to_speech(sents, pauses, reach=1.5)
    # pauses shorter than min_silence are not speech edges
    assert extend_to_speech(sents, pauses, min_silence=1.0)[2].end == 8.9
    assert [(s.start, s.end) for s in out] == [(2.0, 4.6), (5.4, 8.0), (8.1, 9.0)]
    # never across another sentence, never further than reach
    assert extend_to_speech([Sentence(5.0, 6.0, "a")], np.array([[0.0, 1.0]]),
                            reach=1.5)[0].start == 5.0


def test_an_overlong_asr_sentence_with_no_measured_pause_closes_at_its_last_full_stop():
    from clipcut.index.sentences import split_at_pauses

    # no pause measured anywhere (a background that never fell silent): the sentence that
    # runs past 20 s closes at its last full stop, not word by word
    words = [Word(i * 0.5, i * 0.5 + 0.45, "w") for i in range(15)]
    words[-1] = Word(7.0, 7.45, "done.")
    words += [Word(7.5 + i * 0.5, 7.95 + i * 0.5, "v") for i in range(30)]
    sents = split_at_pauses(words, pause=0.25, long_pause=0.8, max_duration=20.0,
                            silences=np.zeros((0, 2)))
    assert [len(s.text.split()) for s in sents] == [15, 30]
    # nor any full stop: at the widest gap between the recognizer's word times
    words = [Word(i * 0.5, i * 0.5 + 0.45, "w") for i in range(15)]
    words += [Word(7.8 + i * 0.5, 8.25 + i * 0.5, "v") for i in range(30)]
    sents = split_at_pauses(words, pause=0.25, long_pause=0.8, max_duration=20.0,
                            silences=np.zeros((0, 2)))
    assert [len(s.text.split()) for s in sents] == [15, 30]
