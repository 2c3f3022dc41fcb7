import numpy as np
import pytest

from clipcut.query.encoder import content_mask, crisp_attention, route_k, softmax


def test_crisp_attention_keeps_top_k_and_renormalizes():
    scores = np.log(np.array([0.1, 0.4, 0.2, 0.3]))  # softmax gives back these weights
    np.testing.assert_allclose(softmax(scores), [0.1, 0.4, 0.2, 0.3])
    alpha = crisp_attention(scores, 2)
    # top 2 are 0.4 and 0.3 -> 4/7 and 3/7
    np.testing.assert_allclose(alpha, [0, 4 / 7, 0, 3 / 7])


def test_crisp_attention_respects_mask_and_k_larger_than_tokens():
    scores = np.array([5.0, 1.0, 1.0, 0.0])
    mask = np.array([False, True, True, True])
    alpha = crisp_attention(scores, 10, mask)
    e = np.exp([1.0, 1.0, 0.0])
    np.testing.assert_allclose(alpha, [0, *(e / e.sum())])
    assert alpha.sum() == pytest.approx(1.0)


def test_crisp_attention_ties_go_to_earlier_token():
    alpha = crisp_attention(np.zeros(4), 2)
    np.testing.assert_allclose(alpha, [0.5, 0.5, 0, 0])


def test_crisp_attention_with_nothing_allowed_is_zero():
    assert crisp_attention(np.ones(3), 2, np.zeros(3, bool)).tolist() == [0, 0, 0]


@pytest.mark.parametrize("n,k", [(1, 3), (3, 3), (4, 5), (6, 7), (8, 10), (25, 10)])
def test_route_k_covers_content_tokens(n, k):
    assert route_k(n, (3, 5, 7, 10)) == k


def test_content_mask_drops_stopwords_specials_and_keeps_word_pieces_together():
    tokens = ["[CLS]", "what", "about", "kub", "##ern", "##etes", "?", "[SEP]"]
    special = np.array([1, 0, 0, 0, 0, 0, 0, 1], bool)
    assert content_mask(tokens, special).tolist() == [False, False, False, True, True, True,
                                                      False, False]


def test_numpy_bert_matches_sentence_transformers():
    """Queries are encoded by a numpy forward pass (no torch import); it must give what
    sentence-transformers gives, token by token."""
    from clipcut import models
    from clipcut.query.bert import BertEncoder
    from clipcut.query.encoder import QueryEncoder

    fast = models.load_query_text_model("")
    assert isinstance(fast, BertEncoder)
    ref, new = QueryEncoder(models.load_text_model("")), QueryEncoder(fast)
    for text in ["pricing objection", "What did the group say about the remote's battery?",
                 "naïve café ☃ 日本", "[SEP] odd [CLS] input", "word " * 400]:
        a, b = ref._forward(text), new._forward(text)
        assert a[0] == b[0] and a[1].tolist() == b[1].tolist()
        assert np.abs(a[2] - b[2]).max() < 1e-4
        assert np.abs(a[3] / np.linalg.norm(a[3]) - b[3] / np.linalg.norm(b[3])).max() < 1e-5
