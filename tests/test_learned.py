"""The trained query side: its math against hand-computed values, training that learns, the
numpy inference twin of the torch model, and the weights shipped in the package."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from clipcut.errors import ModelError
from clipcut.query import learned
from clipcut.query.encoder import QueryEncoder, crisp_attention

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tests" / "data" / "encoder_check.json"
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def train():
    spec = importlib.util.spec_from_file_location("train_encoder",
                                                  ROOT / "scripts" / "train_encoder.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_downweight_hand_values():
    s = np.array([0.2, 0.5, 0.6, 0.75, 0.9, 1.0])
    assert learned.downweight(s) == pytest.approx([1.0, 1.0, 0.8, 0.5, 0.2, 0.0])


def test_top_k_attention_hand_values(train):
    scores = np.log([4.0, 2.0, 1.0, 1.0])  # softmax = [4, 2, 1, 1] / 8
    assert crisp_attention(scores, 2) == pytest.approx([2 / 3, 1 / 3, 0, 0])
    assert crisp_attention(scores, 3) == pytest.approx([4 / 7, 2 / 7, 1 / 7, 0])  # tie: earlier
    mask = np.array([False, True, True, True])
    assert crisp_attention(scores, 2, mask) == pytest.approx([0, 2 / 3, 1 / 3, 0])
    t = torch.tensor(np.stack([scores, np.where(mask, scores, -np.inf)]), dtype=torch.float32)
    out = train.crisp_topk(t, torch.tensor([3, 2])).numpy()
    assert out[0] == pytest.approx([4 / 7, 2 / 7, 1 / 7, 0], abs=1e-6)
    assert out[1] == pytest.approx([0, 2 / 3, 1 / 3, 0], abs=1e-6)


def test_info_nce_hand_value(train):
    scores = torch.tensor([[0.5, 0.2, 0.1]])
    pos = torch.tensor([[True, False, False]])
    weights = torch.tensor([[1.0, 1.0, 0.5]])
    e = [math.exp(x / 0.07) for x in (0.5, 0.2, 0.1)]
    expected = -math.log(e[0] / (e[0] + e[1] + 0.5 * e[2]))
    assert float(train.info_nce(scores, pos, weights)[0]) == pytest.approx(expected, rel=1e-5)


def _tiny_batch(d=16, n_q=4, n_w=10, seed=0):
    rng = np.random.default_rng(seed)
    tok = torch.tensor(rng.normal(size=(n_q, 6, d)), dtype=torch.float32)
    mask = torch.ones(n_q, 6, dtype=torch.bool)
    mask[:, 0] = False
    sent = tok.mean(1)
    win = torch.tensor(rng.normal(size=(n_q, n_w, d)), dtype=torch.float32)
    pos = torch.zeros(n_q, n_w, dtype=torch.bool)
    pos[:, 0] = True
    return tok, mask, sent, win, pos


def test_training_step_decreases_loss(train):
    torch.manual_seed(0)
    model = train.QuerySide(learned.init_params(dim=16, seed=0))
    tok, mask, sent, win, pos = _tiny_batch()
    k = torch.tensor([3, 3, 5, 5])
    params = [model.p[n] for n in ("score_vec", "query_proj", "text_adapter")]
    opt = torch.optim.Adam(params, lr=1e-2)

    def loss_now():
        q = model.encode(tok, mask, sent, k)
        scores = torch.einsum("bd,bcd->bc", q, model.adapt_text(win))
        return train.info_nce(scores, pos, torch.ones_like(scores)).mean()

    first = float(loss_now().detach())
    for _ in range(40):
        loss = loss_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss_now().detach()) < 0.5 * first


def _random_params(d=16, seed=1):
    rng = np.random.default_rng(seed)
    p = learned.init_params(dim=d, seed=seed)
    return {k: (v + rng.normal(0, 0.1, v.shape)).astype(np.float32) for k, v in p.items()}


def test_numpy_inference_matches_torch(train):
    params = _random_params()
    params["audio_std"] = np.abs(params["audio_std"]) + 0.5
    config = {"dim": 16, "n_mels": 80, "hidden": 256, "channels": 64, "k_choices": [3, 5, 7, 10]}
    lrn = learned.LearnedEncoder(params, config, {})
    model = train.QuerySide(params)
    tok, mask, sent, win, _ = _tiny_batch()
    with torch.no_grad():
        q_t = model.encode(tok, mask, sent, torch.tensor([3, 5, 2, 4])).numpy()
        w_t = model.adapt_text(win[0]).numpy()
        audio = np.random.default_rng(2).normal(size=(2, 30, 160)).astype(np.float32)
        a_t = model.audio(torch.from_numpy(audio)).numpy()
        f_t = model.fusion(torch.from_numpy(sent[0].numpy())).numpy()
    for i, k in enumerate([3, 5, 2, 4]):
        t, m, s = tok[i].numpy(), mask[i].numpy(), sent[i].numpy()
        centre = learned.unit(t[m].mean(0))
        alpha = crisp_attention(lrn.token_scores(t, centre), k, m)
        crisp = learned.unit((alpha[:, None] * t).sum(0))
        v = lrn.project(learned.unit(lrn.mix() * crisp + (1 - lrn.mix()) * learned.unit(s)))
        assert v == pytest.approx(q_t[i], abs=1e-5)
    assert lrn.adapt_text(win[0].numpy()) == pytest.approx(w_t, abs=1e-5)
    assert lrn.audio_embed(audio[0]) == pytest.approx(a_t[0], abs=1e-4)
    assert lrn.fusion_logits(sent[0].numpy()) == pytest.approx(f_t, abs=1e-5)


def test_untrained_parameters_are_identity():
    p = learned.init_params(dim=16)
    lrn = learned.LearnedEncoder(p, {"k_choices": [3, 5, 7, 10]}, {})
    x = learned.unit(np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32))
    assert lrn.adapt_text(x) == pytest.approx(x, abs=1e-6)
    assert lrn.project(x[0]) == pytest.approx(x[0], abs=1e-6)
    assert lrn.mix() == 0.5
    assert not lrn.audio_trained
    assert not np.any(lrn.audio_windows(np.ones((60, 160), np.float32), np.array([[0, 30.0]])))


def test_shipped_weights_load_and_match_their_config():
    learned.load.cache_clear()
    lrn = learned.load()
    cfg = lrn.config
    assert lrn.params["query_proj"].shape == (cfg["dim"], cfg["dim"])
    assert lrn.params["router_w1"].shape == (cfg["dim"] + 1, cfg["hidden"])
    assert lrn.params["router_w2"].shape[1] == len(cfg["k_choices"])
    prov = lrn.provenance
    for key in ("data", "seed", "command", "commit", "validation", "check"):
        assert key in prov
    assert np.any(lrn.params["query_proj"]), "shipped weights are still at their identity start"
    assert lrn.route(learned.unit(np.ones(cfg["dim"], np.float32)), 4) in cfg["k_choices"]


def test_shipped_weights_give_the_recorded_check_metric(train):
    """The metric recorded at training time on a validation meeting, recomputed now with the
    packaged sentence encoder and the shipped weights."""
    from clipcut import models

    check = json.loads(CHECK.read_text())
    learned.load.cache_clear()
    lrn = learned.load()
    assert lrn.provenance["check"]["ndcg10_trained"] == check["ndcg10_trained"]
    model = models.load_text_model("")
    trained = train.check_metric(check, QueryEncoder(model, (3, 5, 7, 10), 0.5, lrn))
    untrained = train.check_metric(check, QueryEncoder(model))
    assert trained == pytest.approx(check["ndcg10_trained"], abs=0.01)
    assert untrained == pytest.approx(check["ndcg10_untrained"], abs=0.01)


def test_corrupt_weights_are_a_model_error(tmp_path):
    bad = tmp_path / "w.npz"
    bad.write_bytes(b"not a zip")
    learned.load.cache_clear()
    with pytest.raises(ModelError, match="cannot read query encoder weights"):
        learned.load(str(bad))
    p = learned.init_params(dim=16)
    p.pop("query_proj")
    learned.save(tmp_path / "short.npz", p, {"dim": 16, "n_mels": 80, "hidden": 256,
                                              "channels": 64, "k_choices": [3, 5, 7, 10]}, {})
    with pytest.raises(ModelError, match="do not match their config"):
        learned.load(str(tmp_path / "short.npz"))
