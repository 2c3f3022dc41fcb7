#!/usr/bin/env python3
"""Train a stage-2 reranker on QMSum train meetings and score it on qmsum-val (an
experiment: measured and not shipped; README "Answer quality, second step").

    python scripts/train_reranker.py --out /tmp/reranker.npz      # data, train, pick the epoch

The model is the early-fusion cross-attention of the VMR paper in DESIGN.md's sources: the
query's word-piece states (MiniLM) and a candidate span's sentence embeddings (with 10 s of
neighbours each side), each side attending to the other, pooled and fed with the score
features (stage-2 score, the span's own similarity, length, rank, how much the discussion
within 60-480 s of it matches) to an MLP that adds a delta to the stage-2 score; a second
task classifies each sentence as inside the answer or not.

Stages (fixed seed, CPU; 40 minutes on 2 cores with the data cache cold, then about
45 s an epoch):
 0. data: every train/val meeting is laid out as train_encoder.py does (the benchmark
    builder's sentences, timed at 170 words/min), embedded by the packaged MiniLM through
    the index's own code (sentences and 30 s windows), and each annotated query is run
    through the real stage 1 and stage 2 (clipcut.query.pipeline.rank_spans with the
    shipped query encoder and the default [query] options). The best --top candidate spans
    of each query are kept with what the benchmark would give them: the share of the span
    inside the answer (graded gain) and, per sentence, whether it lies in the answer.
    Cached in --data.
 1. the reranker (torch), by a listwise loss over each query's candidates (softmax of
    (score + delta) / tau against the normalized gains) plus the per-sentence in-answer
    classifier (binary cross-entropy, weight 0.5).
 2. the epoch is picked on qmsum-val by the NDCG@10 of the reranked candidates after the
    same overlap removal as the real selection (a proxy: real figures come from score.py
    over the real command); --out gets the best epoch's weights only when one beats the
    candidates' own order. Nothing is read from any other split.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from train_encoder import (BENCH, bench_text_tools, fold_encoders, git_commit,  # noqa: E402
                           meeting_layout)

from clipcut import models  # noqa: E402
from clipcut.api import _encoder  # noqa: E402
from clipcut.cache import Index  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.index.pipeline import text_arrays  # noqa: E402
from clipcut.query.pipeline import _region_mean, rank_spans  # noqa: E402

TAU = 0.05
SENT_WEIGHT = 0.5
SCORE = bench_text_tools(BENCH, "score")  # the benchmark's interval arithmetic (merge, inside)


# ----------------------------------------------------------------------------- inputs

CONTEXT = 10.0      # neighbouring sentences taken on each side of the span (s)
MAX_SENTENCES = 48  # at most this many sentences per candidate, centred on the span
RADII = np.array([60.0, 120.0, 240.0, 480.0])  # surrounding discussion (s)
N_FEATURES = 5 + len(RADII)


def init_params(dim: int = 384, hidden: int = 128, mlp: int = 128, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)

    def lin(n_in, n_out):
        return (rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)).astype(np.float32)

    h = hidden
    p = {"q_in": lin(dim, h), "q_in_b": np.zeros(h, np.float32),
         "s_in": lin(dim, h), "s_in_b": np.zeros(h, np.float32),
         "sim_vec": np.zeros(h, np.float32), "span_vec": np.zeros(h, np.float32),
         "head_w1": lin(3 * h + N_FEATURES, mlp), "head_b1": np.zeros(mlp, np.float32),
         "head_w2": np.zeros((mlp, 1), np.float32), "head_b2": np.zeros(1, np.float32),
         "sent_w": np.zeros((2 * h, 1), np.float32), "sent_b": np.zeros(1, np.float32)}
    for side in ("qs", "sq"):
        for m in ("wq", "wk", "wv", "wo"):
            p[f"{side}_{m}"] = lin(h, h)
        p[f"{side}_ln_w"] = np.ones(h, np.float32)
        p[f"{side}_ln_b"] = np.zeros(h, np.float32)
    return p


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def query_rows(tok: np.ndarray) -> np.ndarray:
    """The query side's inputs: each word's unit token state, then their unit mean."""
    tok = tok.astype(np.float32)
    return unit_rows(np.vstack([tok, tok.mean(0, keepdims=True)]))


def features(score: float, own: float, length: float, rank: int, n: int,
             around: np.ndarray) -> np.ndarray:
    """The score features of one candidate (scaled to about unit range); ``around``: how much
    more than the recording's mean the sentences within each of RADII of its centre match."""
    return np.concatenate([[score * 5.0, own * 5.0, length / 30.0, rank / max(n, 1), 1.0],
                           10.0 * np.asarray(around)]).astype(np.float32)


def surroundings(sims: np.ndarray, mids: np.ndarray):
    """f(centre) -> the ``around`` argument of features() for one recording (stage 2's own
    surrounding-discussion mean at each of RADII, less the recording's mean)."""
    means = [_region_mean(sims, mids, r) for r in RADII]
    base = float(np.mean(sims)) if len(sims) else 0.0
    return lambda t: np.array([m(t) for m in means]) - base


def span_context(sent_start: np.ndarray, sent_end: np.ndarray, first: int, last: int
           ) -> tuple[int, int]:
    """[lo, hi) sentence range of a candidate: its span and CONTEXT s each side, capped."""
    a, b = sent_start[first] - CONTEXT, sent_end[last] + CONTEXT
    mid = (sent_start + sent_end) / 2
    lo = int(np.searchsorted(mid, a, "left"))
    hi = int(np.searchsorted(mid, b, "right"))
    lo, hi = min(lo, first), max(hi, last + 1)
    while hi - lo > MAX_SENTENCES:  # trim the side farther from the span
        if first - lo > hi - 1 - last:
            lo += 1
        else:
            hi -= 1
    return lo, hi


def log(msg: str) -> None:
    print(f"[rerank] {msg}", file=sys.stderr, flush=True)


def span_gain(start: float, end: float, merged_gt: list) -> float:
    """The benchmark's graded gain of a span: the share of it inside the answer."""
    return SCORE.inside((start, end), merged_gt) / max(end - start, 1e-6)


# ----------------------------------------------------------------------------- data

def layout_index(name: str, lay: dict, tmodel, cfg, store: Path) -> Index:
    """An in-memory clipcut index of a laid-out meeting (text and the transcript's speakers),
    embeddings cached."""
    sents = [SimpleNamespace(start=a, end=b, text=t) for a, b, t in lay["sents"]]
    path = store / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = text_arrays(sents, lay["duration"], tmodel, cfg)
        store.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
    n = len(arrays["windows"])
    arrays.update(win_visual=np.zeros((n, 0), np.float32), win_audio=np.zeros((n, 0), np.float32),
                  frame_times=np.zeros(0), frame_emb=np.zeros((0, 0), np.float32),
                  audio_sec=np.zeros((0, 0), np.float32), silences=np.zeros((0, 2)),
                  scenes=np.zeros(0), sent_speaker=np.array(lay["speakers"]))
    # the text space, as a real index records it (clipcut.query.pipeline.text_space)
    space = "e5" if isinstance(tmodel, models.E5Text) else "minilm"
    return Index({"video": name, "duration": lay["duration"], "text_encoder": space}, arrays)


def query_record(idx: Index, sent_adapted: np.ndarray, encoder, text: str, gt: list, cfg,
                 top: int) -> dict | None:
    q = encoder.encode(text, visual_on=False)
    _, special, tok, _ = encoder._forward(text)
    words = tok[~np.asarray(special, bool)]
    if len(words) == 0:
        return None
    ranked = sorted(rank_spans(idx, q, cfg.query, None), key=lambda r: -r.score)[:top]
    ranked = [r for r in ranked if r.first >= 0]
    gt = SCORE.merge(gt)
    sims = sent_adapted @ q.vector
    at = surroundings(sims, (idx.sent_start + idx.sent_end) / 2)
    cands = []
    for rank, r in enumerate(ranked):
        lo, hi = span_context(idx.sent_start, idx.sent_end, r.first, r.last)
        s0, s1 = idx.sent_start[lo:hi], idx.sent_end[lo:hi]
        sent_in = np.array([SCORE.inside((a, b), gt) >= 0.5 * max(b - a, 1e-6)
                            for a, b in zip(s0, s1)])
        cands.append({"lo": lo, "hi": hi, "first": r.first, "last": r.last,
                      "feats": features(r.score, r.own, r.end - r.start, rank, top,
                                        at((r.start + r.end) / 2)),
                      "score": r.score, "start": r.start, "end": r.end,
                      "gain": span_gain(r.start, r.end, gt),
                      "sent_in": sent_in})
    return {"qrows": query_rows(words), "cands": cands,
            "sims": sims.astype(np.float32)}


def build_split(files: list[Path], bm, cfg, encoders, tmodel, store: Path, top: int) -> dict:
    """``encoders(m)``: the query encoder that scores the m-th meeting."""
    store.mkdir(parents=True, exist_ok=True)
    meetings, queries, offset, sent_all = [], [], 0, []
    for m, f in enumerate(files):
        t0 = time.time()
        encoder = encoders(m)
        lrn = encoder.learned
        lay = meeting_layout(f, bm)
        idx = layout_index(f.stem, lay, tmodel, cfg, store)
        adapted = lrn.adapt_text(idx.sent_emb)
        sent_all.append(idx.sent_emb.astype(np.float32))
        n_q = 0
        for qd in lay["queries"]:
            rec = query_record(idx, adapted, encoder, qd["text"], qd["gt"], cfg, top)
            if rec is None or not rec["cands"]:
                continue
            rec.update(meeting=f.stem, offset=offset, type=qd["type"], text=qd["text"])
            queries.append(rec)
            n_q += 1
        offset += len(idx.sent_emb)
        meetings.append(f.stem)
        log(f"{f.stem}: {len(idx.sent_emb)} sentences, {n_q} queries ({time.time() - t0:.1f} s)")
    return {"sent": np.concatenate(sent_all), "queries": queries, "meetings": meetings}


def cached_split(files: list[Path], args, bm, cfg, encoders, tmodel, scorer: str) -> dict:
    """``scorer`` names what ``encoders`` give (for the cache key)."""
    key = hashlib.sha256(json.dumps([[f.name, f.stat().st_size] for f in files]
                                    + [args.top, CONTEXT, MAX_SENTENCES, scorer,
                                       cfg.query.region, cfg.query.region_weight, 2]
                                    ).encode()).hexdigest()[:16]
    path = args.data / f"split-{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    data = build_split(files, bm, cfg, encoders, tmodel, args.data / "meetings", args.top)
    torch.save(data, path)
    return data


# ----------------------------------------------------------------------------- model (torch)

class TorchReranker(torch.nn.Module):
    """The reranker (torch), batched over queries and candidates with padding masks."""

    def __init__(self, params: dict[str, np.ndarray], heads: int):
        super().__init__()
        self.heads = heads
        self.p = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(v))
                                         for k, v in params.items()})

    def mha(self, x, y, y_mask, side):
        """x (N, Lx, h) attends to y (N, Ly, h); y_mask (N, Ly) true where real."""
        p = self.p
        q, k, v = x @ p[f"{side}_wq"], y @ p[f"{side}_wk"], y @ p[f"{side}_wv"]
        N, Lx, h = q.shape
        hd = h // self.heads
        q = q.view(N, Lx, self.heads, hd).transpose(1, 2)
        k = k.view(N, -1, self.heads, hd).transpose(1, 2)
        v = v.view(N, -1, self.heads, hd).transpose(1, 2)
        att = q @ k.transpose(-1, -2) / hd ** 0.5
        att = att.masked_fill(~y_mask[:, None, None, :], float("-inf")).softmax(-1)
        return (att @ v).transpose(1, 2).reshape(N, Lx, h) @ p[f"{side}_wo"]

    def forward(self, qrows, q_mask, sents, sims, in_span, s_mask, feats):
        """qrows (N, M, d), q_mask (N, M), sents (N, S, d), sims/in_span/s_mask (N, S),
        feats (N, F) -> (delta (N,), sentence logits (N, S))."""
        p = self.p
        q = qrows @ p["q_in"] + p["q_in_b"]
        s = (sents @ p["s_in"] + p["s_in_b"] + sims[..., None] * p["sim_vec"]
             + in_span[..., None].float() * p["span_vec"])
        h = q.shape[-1]
        q = F.layer_norm(q + self.mha(q, s, s_mask, "qs"), (h,), p["qs_ln_w"], p["qs_ln_b"], 1e-5)
        s = F.layer_norm(s + self.mha(s, q, q_mask, "sq"), (h,), p["sq_ln_w"], p["sq_ln_b"], 1e-5)
        qm, sm = q_mask.float()[..., None], (in_span & s_mask).float()[..., None]
        qp = (q * qm).sum(1) / qm.sum(1)
        sp = (s * sm).sum(1) / sm.sum(1).clamp(min=1)
        x = torch.cat([qp, sp, qp * sp, feats], -1)
        delta = (F.relu(x @ p["head_w1"] + p["head_b1"]) @ p["head_w2"] + p["head_b2"])[:, 0]
        sent = (torch.cat([s, s * qp[:, None, :]], -1) @ p["sent_w"] + p["sent_b"])[..., 0]
        return delta, sent


def batch_tensors(queries: list[dict], sent_table: np.ndarray):
    """Pad the candidates of ``queries`` into one batch of N = sum of candidates."""
    rows = [(qi, c) for qi, q in enumerate(queries) for c in q["cands"]]
    M = max(len(q["qrows"]) for q in queries)
    S = max(c["hi"] - c["lo"] for _, c in rows)
    d = sent_table.shape[1]
    N = len(rows)
    qrows = np.zeros((N, M, d), np.float32)
    q_mask = np.zeros((N, M), bool)
    ids = np.zeros((N, S), np.int64)
    sims = np.zeros((N, S), np.float32)
    in_span = np.zeros((N, S), bool)
    s_mask = np.zeros((N, S), bool)
    sent_in = np.zeros((N, S), np.float32)
    feats = np.stack([c["feats"] for _, c in rows])
    for i, (qi, c) in enumerate(rows):
        q = queries[qi]
        m, n = len(q["qrows"]), c["hi"] - c["lo"]
        qrows[i, :m], q_mask[i, :m] = q["qrows"], True
        ids[i, :n] = q["offset"] + np.arange(c["lo"], c["hi"])
        sims[i, :n] = q["sims"][c["lo"]:c["hi"]]
        in_span[i, c["first"] - c["lo"]:c["last"] - c["lo"] + 1] = True
        s_mask[i, :n] = True
        sent_in[i, :n] = c["sent_in"]
    t = torch.from_numpy
    return (t(qrows), t(q_mask), t(sent_table[ids]), t(sims), t(in_span), t(s_mask),
            t(feats)), t(sent_in), [qi for qi, _ in rows]


def scored(model: TorchReranker, queries: list[dict], sent_table: np.ndarray, chunk: int = 32
           ) -> list[np.ndarray]:
    """New scores (base + delta) of every candidate, per query."""
    out = []
    with torch.no_grad():
        for b in range(0, len(queries), chunk):
            part = queries[b:b + chunk]
            inputs = batch_tensors(part, sent_table)[0]
            delta = model(*inputs)[0].numpy()
            pos = 0
            for q in part:
                n = len(q["cands"])
                out.append(np.array([c["score"] for c in q["cands"]]) + delta[pos:pos + n])
                pos += n
    return out


def proxy_ndcg(queries: list[dict], scores: list[np.ndarray], overlap: float = 0.3) -> float:
    """NDCG@10 of the candidates in score order after dropping spans overlapping a better one
    by more than ``overlap`` of the shorter (as the real selection does)."""
    idcg = sum(1 / np.log2(k + 2) for k in range(10))
    total = 0.0
    for q, s in zip(queries, scores):
        kept = []
        for j in np.argsort(-s, kind="stable"):
            c = q["cands"][j]
            if any(min(c["end"], e) - max(c["start"], a) > overlap * min(c["end"] - c["start"],
                                                                          e - a)
                   for a, e, _ in kept):
                continue
            kept.append((c["start"], c["end"], c["gain"]))
            if len(kept) == 10:
                break
        total += sum(g / np.log2(k + 2) for k, (_, _, g) in enumerate(kept)) / idcg
    return total / max(len(queries), 1)


def train_and_save(train: dict, val: dict, args, t_start: float) -> int:
    rng = np.random.default_rng(args.seed)
    config = {"dim": int(train["sent"].shape[1]), "hidden": args.hidden, "mlp": 128,
              "heads": args.heads, "top": args.top, "tau": TAU, "context": CONTEXT,
              "max_sentences": MAX_SENTENCES, "text_model": "all-MiniLM-L6-v2"}
    model = TorchReranker(init_params(config["dim"], args.hidden, 128, args.seed),
                          args.heads)
    qs = [q for q in train["queries"] if any(c["gain"] > 0 for c in q["cands"])]
    base_val = [np.array([c["score"] for c in q["cands"]]) for q in val["queries"]]
    before = proxy_ndcg(val["queries"], base_val)
    log(f"train on {len(qs)} queries with a relevant candidate; val proxy NDCG@10 before "
        f"{before:.4f}")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    history, best = [], (before, None, 0)
    for epoch in range(args.epochs):
        order = rng.permutation(len(qs))
        total = 0.0
        for b in range(0, len(order), args.batch):
            part = [qs[i] for i in order[b:b + args.batch]]
            inputs, sent_in, owner = batch_tensors(part, train["sent"])
            delta, sent_logit = model(*inputs)
            base = torch.tensor([c["score"] for q in part for c in q["cands"]], dtype=torch.float32)
            gain = torch.tensor([c["gain"] for q in part for c in q["cands"]], dtype=torch.float32)
            z = (base + delta) / TAU
            owner_t = torch.tensor(owner)
            loss = 0.0
            for qi in range(len(part)):
                sel = owner_t == qi
                target = gain[sel] / gain[sel].sum()
                loss = loss - (target * torch.log_softmax(z[sel], 0)).sum()
            loss = loss / len(part)
            s_mask = inputs[5]
            bce = F.binary_cross_entropy_with_logits(sent_logit[s_mask], sent_in[s_mask])
            step = loss + SENT_WEIGHT * bce
            opt.zero_grad()
            step.backward()
            opt.step()
            total += float(loss.detach()) * len(part)
        model.eval()
        proxy = proxy_ndcg(val["queries"], scored(model, val["queries"], val["sent"]))
        model.train()
        history.append({"epoch": epoch + 1, "loss": round(total / len(qs), 4),
                        "val_proxy_ndcg10": round(proxy, 4)})
        log(f"epoch {epoch + 1}: loss {total / len(qs):.4f}, val proxy NDCG@10 {proxy:.4f} "
            f"({time.time() - t_start:.0f} s)")
        if proxy > best[0]:
            best = (proxy, {k: v.detach().clone() for k, v in model.p.items()}, epoch + 1)
    if best[1] is None:
        log("no epoch beat the candidates' own order on validation; nothing written")
        return 1
    params = {k: v.numpy() for k, v in best[1].items()}
    provenance = {
        "data": {"train": f"qmsum-train ({len(train['meetings'])} meetings, {len(qs)} queries)",
                 "validation": f"qmsum-val ({len(val['meetings'])} meetings, "
                               f"{len(val['queries'])} queries; picks the epoch)"},
        "seed": args.seed, "command": "python scripts/train_reranker.py " + " ".join(sys.argv[1:]),
        "commit": git_commit(), "history": history, "epoch": best[2],
        "validation": {"proxy_ndcg10_before": round(before, 4),
                       "proxy_ndcg10_after": round(best[0], 4)},
        "seconds": round(time.time() - t_start, 1)}
    np.savez(args.out, **params, _config=np.array(json.dumps(config)),
             _provenance=np.array(json.dumps(provenance)))
    log(f"wrote {args.out} (epoch {best[2]}, val proxy {before:.4f} -> {best[0]:.4f}) in "
        f"{time.time() - t_start:.0f} s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=BENCH / "qmsum-train")
    ap.add_argument("--val", type=Path, default=BENCH / "qmsum-val")
    ap.add_argument("--out", type=Path, default=Path("reranker.npz"))
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "clipcut-rerank")
    ap.add_argument("--top", type=int, default=40, help="candidates reranked per query")
    ap.add_argument("--data-only", action="store_true")
    ap.add_argument("--folds", type=Path, help="folder of fold-K.npz (`train_encoder.py --fold "
                    "K/N`): train candidates scored out of fold")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    cfg = load_config()
    bm = bench_text_tools(BENCH if (BENCH / "build_media.py").exists() else args.train.parent)
    tmodel = models.load_text_model("")
    encoder = _encoder(cfg, "")
    shipped = encoder.learned.provenance.get("commit", "")
    if args.folds:  # each train meeting scored by an encoder never trained on it
        folds = fold_encoders(args.folds, encoder.model, cfg)
        n = len(folds)
        train = cached_split(sorted(args.train.glob("*.json")), args, bm, cfg,
                             lambda m: folds[m % n], tmodel, f"folds:{args.folds.name}:{n}")
    else:
        train = cached_split(sorted(args.train.glob("*.json")), args, bm, cfg,
                             lambda m: encoder, tmodel, shipped)
    val = cached_split(sorted(args.val.glob("*.json")), args, bm, cfg, lambda m: encoder,
                       tmodel, shipped)
    log(f"data: train {len(train['queries'])} queries, val {len(val['queries'])} "
        f"({time.time() - t_start:.0f} s)")
    if args.data_only:
        return 0
    return train_and_save(train, val, args, t_start)


if __name__ == "__main__":
    sys.exit(main())
