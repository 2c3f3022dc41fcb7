import numpy as np
import pytest

from clipcut.query.timephrase import parse, prior_weights


@pytest.mark.parametrize("query,semantic,kind,lo,hi", [
    ("pricing objection at 23 minutes", "pricing objection", "point", 1380, 1380),
    ("kubernetes discussion around 1:05:30", "kubernetes discussion", "point", 3930, 3930),
    ("the budget in the first 10 minutes", "the budget", "range", 0, 600),
    ("demo at 5:30", "demo", "point", 330, 330),
    ("questions after 1 hour", "questions", "range", 3600, float("inf")),
    ("intro at minute 12", "intro", "point", 720, 720),
])
def test_time_phrases(query, semantic, kind, lo, hi):
    text, prior = parse(query)
    assert text == semantic
    assert (prior.kind, prior.lo, prior.hi) == (kind, lo, hi)


def test_near_the_end_is_relative():
    text, prior = parse("wrap up near the end")
    assert text == "wrap up"
    w = prior_weights(prior, np.array([50.0, 95.0]), 100.0, 5.0)
    assert w[1] == 1.0 and w[0] < 1e-6


def test_last_minutes_counts_back_from_the_end():
    _, prior = parse("the summary in the last 5 minutes")
    w = prior_weights(prior, np.array([100.0, 3400.0]), 3600.0, 60.0)
    assert w[1] == 1.0 and w[0] < 1e-6


@pytest.mark.parametrize("query", ["about 5 people", "storage at 5 megabytes", "pricing objection"])
def test_no_time_phrase(query):
    assert parse(query) == (query, None)


def test_point_prior_falls_off_with_sigma():
    _, prior = parse("at 10 minutes")
    w = prior_weights(prior, np.array([600.0, 690.0]), 3600.0, 90.0)
    np.testing.assert_allclose(w, [1.0, np.exp(-0.5)])
