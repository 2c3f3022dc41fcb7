#!/usr/bin/env python3
"""Train clipcut's query side on QMSum train meetings and write the weights the package ships.

    python scripts/train_encoder.py                       # features, train, validate, save
    python scripts/train_encoder.py --no-mining --out /tmp/ablation.npz

Stages (fixed seed, CPU, about 10 minutes on 2 cores with the feature cache cold):
 0. features: every train/val meeting is cut into sentences as the benchmark builder does,
    timed at 170 words/min, grouped into 30 s windows and embedded by the frozen
    all-MiniLM-L6-v2; queries keep their token embeddings. Cached in --features.
 1. crisp attention encoder (token scorer, top-k + renormalization, crisp/mean mix, residual
    query projection) and the residual text adapter of segment embeddings, by InfoNCE
    (temperature 0.07) over the query's own meeting: annotated windows are positives; hard
    negatives are windows with similarity 0.3-0.6 to the query under the frozen encoder
    (plus random ones); a negative with similarity s > 0.5 counts max(0, 1 - 2(s - 0.5)).
    k is drawn from {3, 5, 7, 10} per step so the encoder serves every k. Data: annotated
    specific queries and topics, plus weak pairs (a window's top TF-IDF terms as the query).
 2. router: a 2-layer MLP (256 hidden) on [mean query embedding, content tokens / 10]
    classifies which k gives the best average precision on the training query (soft
    targets); at run time its argmax is the k, so the discrete choice needs no gradient.
 3. fusion MLP and audio adapter (a 1D CNN over per-second log-mel statistics) on clipcut
    caches of built train meetings (--media), text side frozen. Skipped without --media.

The epoch count is picked on qmsum-val window NDCG@10 (a proxy: no snapping or selection);
the real figures come from scripts/bench_eval.py. Nothing is read from any other split.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from clipcut import cache, models
from clipcut.index.pipeline import find_current
from clipcut.index.text import embed
from clipcut.index.windows import make_windows, members
from clipcut.query import learned
from clipcut.query.encoder import QueryEncoder, content_mask, lexical_terms

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
WORDS_PER_S = 170 / 60
TURN_PAUSE = 0.3
WINDOW = 30.0
TAU = 0.07
K_CHOICES = (3, 5, 7, 10)
HARD = (0.3, 0.6)


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- features

def bench_text_tools(bench: Path, name: str = "build_media"):
    """A module of the benchmark: by default the builder's own text cleaning and sentence
    splitting (same sentences); ``score`` for the scorer's interval arithmetic."""
    spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def meeting_layout(path: Path, bm) -> dict:
    """Sentences with estimated times and their speakers, windows, and the queries with
    window relevance and their answer spans (s)."""
    meeting, turns, _ = bm.load_meeting(path)
    t, turn_times, sents, speakers = 0.0, [], [], []
    for speaker, sentences in turns:
        start = t
        for s in sentences:
            d = max(0.5, len(s.split()) / WORDS_PER_S)
            sents.append((t, t + d, s))
            speakers.append(speaker)
            t += d
        turn_times.append((start, t))
        t += TURN_PAUSE
    wins = make_windows(t, WINDOW, WINDOW)
    mids = np.array([(a + b) / 2 for a, b, _ in sents])
    groups = members(wins, mids)
    texts = [" ".join(sents[i][2] for i in g) for g in groups]
    queries = []
    for kind, items, key in (("specific", meeting.get("specific_query_list") or [], "query"),
                             ("topic", meeting.get("topic_list") or [], "topic")):
        for item in items:
            spans = [(int(a), int(b)) for a, b in item.get("relevant_text_span") or []]
            if not spans or any(b >= len(turns) or a > b for a, b in spans):
                continue
            gt = [(turn_times[a][0], turn_times[b][1]) for a, b in spans]
            rel = window_relevance(wins, gt)
            if rel.any():
                queries.append({"text": item[key].strip(), "type": kind, "rel": rel, "gt": gt})
    return {"texts": texts, "queries": queries, "sents": sents, "speakers": speakers,
            "duration": t}


def window_relevance(wins: np.ndarray, gt: list[tuple[float, float]]) -> np.ndarray:
    """A window answers when half of it, or half of a short answer span, lies in the answer."""
    rel = np.zeros(len(wins), bool)
    for a, b in gt:
        ov = np.clip(np.minimum(wins[:, 1], b) - np.maximum(wins[:, 0], a), 0, None)
        rel |= (ov >= 0.5 * (wins[:, 1] - wins[:, 0])) | (ov >= 0.5 * (b - a))
    return rel


def weak_queries(texts: list[str], df: Counter, n_docs: int, rng, per_meeting: int) -> list:
    """Pseudo-queries: the 4 highest TF-IDF terms of a random window (terms seen >= 3 times
    in the corpus), paired with that window."""
    out = []
    for j in rng.permutation(len(texts))[:per_meeting]:
        tf = Counter(w for w in lexical_terms(texts[j]) if len(w) > 2 and df[w] >= 3)
        if len(tf) < 4:
            continue
        score = {w: c * math.log(n_docs / df[w]) for w, c in tf.items()}
        terms = sorted(score, key=lambda w: (-score[w], w))[:4]
        rel = np.zeros(len(texts), bool)
        rel[j] = True
        out.append({"text": " ".join(terms), "type": "weak", "rel": rel})
    return out


def query_tokens(enc: QueryEncoder, text: str):
    tokens, special, tok, sent = enc._forward(text)
    return tok.astype(np.float32), content_mask(tokens, special), sent.astype(np.float32)


def build_features(files: list[Path], bm, enc, seed: int, weak_per_meeting: int) -> dict:
    layouts = [meeting_layout(f, bm) for f in files]
    df = Counter(w for lay in layouts for t in lay["texts"] for w in set(lexical_terms(t)))
    n_docs = sum(len(lay["texts"]) for lay in layouts)
    rng = np.random.default_rng(seed)
    win_emb, win_meeting, queries = [], [], []
    offset = 0
    for m, (f, lay) in enumerate(zip(files, layouts)):
        t0 = time.time()
        emb = embed(enc.model, lay["texts"])
        win_emb.append(emb)
        win_meeting.append(np.full(len(emb), m))
        qs = lay["queries"] + (weak_queries(lay["texts"], df, n_docs, rng, weak_per_meeting)
                               if weak_per_meeting else [])
        for q in qs:
            tok, mask, sent = query_tokens(enc, q["text"])
            queries.append({"meeting": m, "name": f.stem, "text": q["text"], "type": q["type"],
                            "tok": tok, "mask": mask, "sent": sent,
                            "pos": offset + np.flatnonzero(q["rel"]),
                            "lo": offset, "hi": offset + len(emb)})
        offset += len(emb)
        log(f"features {f.stem}: {len(emb)} windows, {len(qs)} queries ({time.time() - t0:.1f} s)")
    return {"win": np.concatenate(win_emb), "queries": queries, "files": [f.stem for f in files]}


def cached_features(files: list[Path], cache: Path, bm, enc, seed: int, weak: int) -> dict:
    key = hashlib.sha256(json.dumps([[f.name, f.stat().st_size] for f in files] +
                                    [seed, weak, WINDOW, WORDS_PER_S, 2]).encode()).hexdigest()[:16]
    path = cache / f"features-{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    feats = build_features(files, bm, enc, seed, weak)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(feats, path)
    return feats


# ----------------------------------------------------------------------------- model (torch)

class QuerySide(torch.nn.Module):
    """Torch twin of clipcut.query.learned.LearnedEncoder (same parameter names and math)."""

    def __init__(self, params: dict[str, np.ndarray]):
        super().__init__()
        self.p = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(v))
                                         for k, v in params.items()})

    def encode(self, tok, mask, sent, k):
        """tok (B, L, d), mask (B, L) content tokens, sent (B, d), k (B,) -> (B, d) units."""
        p = self.p
        mean = F.normalize(sent, dim=-1)
        m = mask.float()
        centre = F.normalize((tok * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1),
                             dim=-1)
        scores = p["score_scale"] * torch.einsum("bld,bd->bl", tok, centre) + tok @ p["score_vec"]
        scores = scores.masked_fill(~mask, float("-inf"))
        alpha = crisp_topk(scores, k)
        crisp = F.normalize(torch.einsum("bl,bld->bd", alpha, tok), dim=-1)
        mix = torch.sigmoid(p["mix_logit"])
        q = F.normalize(mix * crisp + (1 - mix) * mean, dim=-1)
        q = torch.where(mask.any(1, keepdim=True), q, mean)
        return F.normalize(q + q @ p["query_proj"], dim=-1)

    def adapt_text(self, emb):
        return F.normalize(emb + emb @ self.p["text_adapter"], dim=-1)

    def router(self, x):
        p = self.p
        return F.relu(x @ p["router_w1"] + p["router_b1"]) @ p["router_w2"] + p["router_b2"]

    def fusion(self, mean):
        p = self.p
        return F.relu(mean @ p["fusion_w1"] + p["fusion_b1"]) @ p["fusion_w2"] + p["fusion_b2"]

    def audio(self, x):
        """x (N, T, 2*n_mels) per-second log-mel statistics -> (N, d)."""
        p = self.p
        x = ((x - p["audio_mean"]) / p["audio_std"]).transpose(1, 2)
        h = F.relu(F.conv1d(x, p["audio_conv1"].permute(2, 1, 0), p["audio_b1"], padding=1))
        h = F.relu(F.conv1d(h, p["audio_conv2"].permute(2, 1, 0), p["audio_b2"], padding=1))
        return F.normalize(h.mean(2) @ p["audio_out"], dim=-1)


def crisp_topk(scores: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Softmax, keep the k largest weights per row (ties to the earlier token), renormalize."""
    alpha = torch.softmax(scores, dim=-1)
    alpha = torch.nan_to_num(alpha, nan=0.0)
    order = torch.argsort(-alpha, dim=-1, stable=True)
    ranks = torch.argsort(order, dim=-1)
    sparse = alpha * (ranks < k[:, None]).float()
    return sparse / sparse.sum(-1, keepdim=True).clamp(min=1e-12)


def info_nce(scores, pos, weights, tau=TAU):
    """Multi-positive InfoNCE. scores (B, C) cosines, pos (B, C) bool, weights (B, C) negative
    weights (0 = not a candidate)."""
    z = scores / tau
    z_max = z.max(1, keepdim=True).values.detach()
    e = torch.exp(z - z_max)
    num = (e * pos).sum(1)
    den = num + (e * weights * (~pos)).sum(1)
    return -(torch.log(num.clamp(min=1e-30)) - torch.log(den.clamp(min=1e-30)))


def pad_queries(qs: list[dict]):
    L = max(len(q["tok"]) for q in qs)
    d = qs[0]["tok"].shape[1]
    tok = torch.zeros(len(qs), L, d)
    mask = torch.zeros(len(qs), L, dtype=torch.bool)
    for i, q in enumerate(qs):
        tok[i, :len(q["tok"])] = torch.from_numpy(np.asarray(q["tok"], np.float32))
        mask[i, :len(q["mask"])] = torch.from_numpy(np.asarray(q["mask"]))
    sent = torch.from_numpy(np.stack([np.asarray(q["sent"], np.float32) for q in qs]))
    return tok, mask, sent


def candidates(q: dict, base: np.ndarray, rng, mining: bool, n_pos=8, n_neg=48, n_hard=32):
    """Window ids, positive flags and negative weights for one query."""
    pos = rng.permutation(q["pos"])[:n_pos]
    others = np.setdiff1d(np.arange(q["lo"], q["hi"]), q["pos"])
    s = base[others - q["lo"]]
    if mining:
        hard = others[(s >= HARD[0]) & (s <= HARD[1])]
        hard = rng.permutation(hard)[:n_hard]
        rest = rng.permutation(np.setdiff1d(others, hard))[:n_neg - len(hard)]
        neg = np.concatenate([hard, rest])
    else:
        neg = rng.permutation(others)[:n_neg]
    ids = np.concatenate([pos, neg]).astype(int)
    flags = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    return ids, flags


def baseline_sims(feats: dict) -> list[np.ndarray]:
    """Per query: the frozen encoder's cosine (mean pooling) to each window of its meeting."""
    win = feats["win"]
    return [win[q["lo"]:q["hi"]] @ (q["sent"] / max(np.linalg.norm(q["sent"]), 1e-12))
            for q in feats["queries"]]


def train_text(model: QuerySide, feats: dict, val: dict, args, rng) -> list[dict]:
    """Epochs of InfoNCE; the parameters of the epoch with the best validation proxy are kept."""
    win = torch.from_numpy(feats["win"])
    qs = feats["queries"]
    base = baseline_sims(feats)
    params = [model.p[n] for n in ("score_scale", "score_vec", "mix_logit", "query_proj",
                                   "text_adapter")]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    history = []
    best = (-1.0, None)
    for epoch in range(args.epochs):
        order = rng.permutation(len(qs))
        total, seen = 0.0, 0
        for b in range(0, len(order), args.batch):
            batch = [qs[i] for i in order[b:b + args.batch]]
            cands = [candidates(q, base[i], rng, args.mining)
                     for q, i in zip(batch, order[b:b + args.batch])]
            C = max(len(c[0]) for c in cands)
            ids = torch.zeros(len(batch), C, dtype=torch.long)
            pos = torch.zeros(len(batch), C, dtype=torch.bool)
            wts = torch.zeros(len(batch), C)
            for i, ((cid, flags), qi) in enumerate(zip(cands, order[b:b + args.batch])):
                ids[i, :len(cid)] = torch.from_numpy(cid)
                pos[i, :len(cid)] = torch.from_numpy(flags)
                wts[i, :len(cid)] = torch.from_numpy(
                    learned.downweight(base[qi][cid - qs[qi]["lo"]]).astype(np.float32))
            tok, mask, sent = pad_queries(batch)
            k = torch.tensor([args.k or int(rng.choice(K_CHOICES)) for _ in batch])
            q = model.encode(tok, mask, sent, k)
            w = model.adapt_text(win[ids])
            scores = torch.einsum("bd,bcd->bc", q, w)
            loss = info_nce(scores, pos, wts)
            qw = torch.tensor([args.weak_weight if x["type"] == "weak" else 1.0 for x in batch])
            loss = (loss * qw).sum() / qw.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        proxy = evaluate(model, val, lambda _: 5)["all"]
        history.append({"epoch": epoch + 1, "loss": round(total / seen, 4), "val_ndcg10": proxy})
        log(f"epoch {epoch + 1}: loss {total / seen:.4f}, val window NDCG@10 {proxy:.4f}")
        if proxy > best[0]:
            best = (proxy, {k: v.detach().clone() for k, v in model.p.items()})
    with torch.no_grad():
        for k, v in best[1].items():
            model.p[k].copy_(v)
    return history


# ----------------------------------------------------------------------------- evaluation

def ndcg10(scores: np.ndarray, rel: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")[:10]
    gains = rel[order] / np.log2(np.arange(2, len(order) + 2))
    ideal = np.sort(rel)[::-1][:10] / np.log2(np.arange(2, min(10, len(rel)) + 2))
    return float(gains.sum() / ideal.sum()) if ideal.sum() > 0 else 0.0


def average_precision(scores: np.ndarray, rel: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = rel[order]
    if not hits.any():
        return 0.0
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((prec * hits).sum() / hits.sum())


@torch.no_grad()
def window_scores(model: QuerySide, feats: dict, qs: list[dict], k_of) -> list[np.ndarray]:
    win = model.adapt_text(torch.from_numpy(feats["win"])).numpy()
    out = []
    for b in range(0, len(qs), 64):
        batch = qs[b:b + 64]
        tok, mask, sent = pad_queries(batch)
        k = torch.tensor([k_of(q) for q in batch])
        q = model.encode(tok, mask, sent, k).numpy()
        out.extend(win[x["lo"]:x["hi"]] @ v for x, v in zip(batch, q))
    return out


def evaluate(model: QuerySide, feats: dict, k_of) -> dict:
    qs = [q for q in feats["queries"] if q["type"] != "weak"]
    scores = window_scores(model, feats, qs, k_of)
    res = {}
    for kind in ("all", "specific", "topic"):
        sel = [(s, q) for s, q in zip(scores, qs) if kind == "all" or q["type"] == kind]
        rel = [np.isin(np.arange(q["lo"], q["hi"]), q["pos"]).astype(float) for _, q in sel]
        res[kind] = round(float(np.mean([ndcg10(s, r) for (s, _), r in zip(sel, rel)])), 4)
    return res


def routed_k(model: QuerySide):
    @torch.no_grad()
    def k_of(q):
        mean = q["sent"] / max(np.linalg.norm(q["sent"]), 1e-12)
        x = torch.from_numpy(np.r_[mean, q["mask"].sum() / 10.0].astype(np.float32))
        return K_CHOICES[int(model.router(x).argmax())]
    return k_of


def train_router(model: QuerySide, feats: dict, args) -> dict:
    qs = [q for q in feats["queries"] if q["type"] != "weak"]
    ap = np.zeros((len(qs), len(K_CHOICES)))
    for j, k in enumerate(K_CHOICES):
        for i, (s, q) in enumerate(zip(window_scores(model, feats, qs, lambda _: k), qs)):
            ap[i, j] = average_precision(s, np.isin(np.arange(q["lo"], q["hi"]), q["pos"]))
    target = torch.softmax(torch.from_numpy(ap / args.router_temp).float(), dim=1)
    x = torch.from_numpy(np.stack([np.r_[q["sent"] / max(np.linalg.norm(q["sent"]), 1e-12),
                                         q["mask"].sum() / 10.0] for q in qs]).astype(np.float32))
    params = [model.p[n] for n in ("router_w1", "router_b1", "router_w2", "router_b2")]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2)
    for _ in range(args.router_steps):
        loss = -(target * torch.log_softmax(model.router(x), 1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pick = model.router(x).argmax(1).numpy()
    best = ap.argmax(1)
    counts = Counter(K_CHOICES[i] for i in pick)
    return {"train_accuracy": round(float((pick == best).mean()), 3),
            "oracle_ap": round(float(ap.max(1).mean()), 4),
            "routed_ap": round(float(ap[np.arange(len(qs)), pick].mean()), 4),
            "fixed_ap": {str(k): round(float(ap[:, j].mean()), 4) for j, k in enumerate(K_CHOICES)},
            "picked": {str(k): counts.get(k, 0) for k in K_CHOICES}}


# ----------------------------------------------------------------------------- fusion + audio

def fusion_data(media: Path, enc: QueryEncoder) -> list[dict]:
    """(query, windows, text embeddings, per-second audio, relevance) from clipcut caches of
    built meetings (`clipcut index` run on them first)."""
    out = []
    for qf in sorted(media.glob("*.queries.jsonl")):
        video = media / qf.name.replace(".queries.jsonl", ".mp4")
        hit = find_current(video, {"schema": cache.SCHEMA, "source": cache.fingerprint(video)})
        idx = hit[0] if hit else None
        if idx is None or len(idx.audio_sec) == 0:
            log(f"fusion: {video.name} has no cache with audio; skipped")
            continue
        wins = idx.windows
        secs = np.zeros((len(wins), int(WINDOW), idx.audio_sec.shape[1]), np.float32)
        for j, (a, b) in enumerate(wins):
            seg = idx.audio_sec[int(a):int(np.ceil(b))][:int(WINDOW)]
            secs[j, :len(seg)] = seg
        for line in qf.read_text().splitlines():
            q = json.loads(line)
            tok, mask, sent = query_tokens(enc, q["query"])
            out.append({"tok": tok, "mask": mask, "sent": sent, "type": q["type"],
                        "win": idx.win_text, "audio": secs,
                        "rel": window_relevance(wins, [tuple(g) for g in q["gt"]])})
    return out


def fused_scores(model: QuerySide, d: dict, qv: torch.Tensor, text: torch.Tensor):
    aud = model.audio(torch.from_numpy(d["audio"])) @ qv
    w = torch.softmax(model.fusion(F.normalize(torch.from_numpy(d["sent"]), dim=-1))[1:], dim=0)
    return w[0] * aud + w[1] * text, w  # no visual features in these recordings


def query_vectors(model: QuerySide, data: list[dict]):
    k_of = routed_k(model)
    with torch.no_grad():
        qv = model.encode(*pad_queries(data), torch.tensor([k_of(d) for d in data]))
        text = [model.adapt_text(torch.from_numpy(d["win"])) @ qv[i] for i, d in enumerate(data)]
    return qv, text


@torch.no_grad()
def fusion_val(model: QuerySide, data: list[dict]) -> float:
    qv, text = query_vectors(model, data)
    return float(np.mean([ndcg10(fused_scores(model, d, qv[i], text[i])[0].numpy(),
                                 d["rel"].astype(float)) for i, d in enumerate(data)]))


def train_fusion(model: QuerySide, data: list[dict], val: list[dict], args, rng) -> dict:
    """Fusion MLP + audio adapter on built train meetings, text side frozen. The epoch with
    the best validation window NDCG@10 is kept; epoch 0 (audio left out) competes too, and
    audio must beat it by --fusion-margin to be kept (it costs time on every query)."""
    allsec = np.concatenate([d["audio"].reshape(-1, d["audio"].shape[-1]) for d in data])
    with torch.no_grad():
        model.p["audio_mean"].copy_(torch.from_numpy(allsec.mean(0)))
        model.p["audio_std"].copy_(torch.from_numpy(allsec.std(0) + 1e-3))
    names = ("fusion_w1", "fusion_b1", "fusion_w2", "fusion_b2", "audio_conv1", "audio_b1",
             "audio_conv2", "audio_b2", "audio_out")
    opt = torch.optim.AdamW([model.p[n] for n in names], lr=args.lr, weight_decay=1e-2)
    qv, text = query_vectors(model, data)
    _, val_text = query_vectors(model, val)
    text_only = float(np.mean([ndcg10(t.numpy(), d["rel"].astype(float))
                               for t, d in zip(val_text, val)]))
    best = (text_only, 0, {n: model.p[n].detach().clone() for n in names})
    history = []
    for epoch in range(args.fusion_epochs):
        total = 0.0
        for i in rng.permutation(len(data)):
            d = data[i]
            scores, _ = fused_scores(model, d, qv[i], text[i])
            weights = torch.from_numpy(learned.downweight(text[i].numpy())).float()
            loss = info_nce(scores[None], torch.from_numpy(d["rel"])[None], weights[None])
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
            total += float(loss.detach())
        proxy = fusion_val(model, val)
        history.append({"epoch": epoch + 1, "loss": round(total / len(data), 4),
                        "val_ndcg10": round(proxy, 4)})
        log(f"fusion epoch {epoch + 1}: {history[-1]} (audio left out: {text_only:.4f})")
        if proxy > best[0] + (args.fusion_margin if best[1] == 0 else 0.0):
            best = (proxy, epoch + 1, {n: model.p[n].detach().clone() for n in names})
    with torch.no_grad():
        for n, v in best[2].items():
            model.p[n].copy_(v)
        means = torch.stack([F.normalize(torch.from_numpy(d["sent"]), dim=-1) for d in data])
        w = torch.softmax(model.fusion(means)[:, 1:], dim=1)
    return {"train_queries": len(data), "val_queries": len(val), "history": history,
            "val_ndcg10_audio_left_out": round(text_only, 4), "kept_epoch": best[1],
            "audio_trained": best[1] > 0,
            "audio_weight_mean": round(float(w[:, 0].mean()), 4) if best[1] else 0.0}


# ----------------------------------------------------------------------------- check file

def check_metric(check: dict, enc: QueryEncoder) -> float:
    """Mean window NDCG@10 of ``enc`` on a recorded check (texts, queries, relevance): the
    same computation tests/test_learned.py repeats on the shipped weights."""
    win = embed(enc.model, check["texts"])
    if enc.learned is not None:
        win = enc.learned.adapt_text(win)
    return float(np.mean([ndcg10(win @ enc.encode(q["text"]).vector, np.asarray(q["rel"], float))
                          for q in check["queries"]]))


def write_check(path: Path, val_file: Path, bm, lrn: learned.LearnedEncoder) -> dict:
    lay = meeting_layout(val_file, bm)
    check = {"meeting": val_file.stem, "texts": lay["texts"],
             "queries": [{"text": q["text"], "type": q["type"], "rel": q["rel"].astype(int).tolist()}
                         for q in lay["queries"]]}
    model = models.load_text_model("")
    check["ndcg10_untrained"] = round(check_metric(check, QueryEncoder(model)), 4)
    check["ndcg10_trained"] = round(check_metric(check, QueryEncoder(
        model, K_CHOICES, 0.5, lrn)), 4)
    path.write_text(json.dumps(check, indent=1) + "\n")
    return {k: check[k] for k in ("meeting", "ndcg10_untrained", "ndcg10_trained")}


# ----------------------------------------------------------------------------- main

def fold_encoders(folds: Path, model, cfg) -> list[QueryEncoder]:
    """The out-of-fold query encoders of ``folds`` (fold-0.npz ... from ``--fold K/N``, in
    order): the K-th scores the train meetings whose sorted position modulo N is K."""
    paths = sorted(folds.glob("fold-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
    if not paths:
        raise SystemExit(f"{folds}: no fold-K.npz; run train_encoder.py --fold K/N first")
    return [QueryEncoder(model, cfg.query.crisp_k, cfg.query.crisp_mix, learned.load(str(p)))
            for p in paths]


def git_commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=BENCH / "qmsum-train")
    ap.add_argument("--val", type=Path, default=BENCH / "qmsum-val")
    ap.add_argument("--media", type=Path, help="built train meetings with clipcut caches "
                    "(for the fusion MLP and the audio adapter)")
    ap.add_argument("--val-media", type=Path, help="built validation meetings with clipcut "
                    "caches (picks the fusion epoch); required with --media")
    ap.add_argument("--out", type=Path, default=learned.PACKAGED)
    ap.add_argument("--features", type=Path, default=Path.home() / ".cache" / "clipcut-train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--weak-per-meeting", type=int, default=12)
    ap.add_argument("--weak-weight", type=float, default=0.5)
    ap.add_argument("--no-mining", dest="mining", action="store_false")
    ap.add_argument("--no-weak", action="store_true", help="drop the weak TF-IDF pairs")
    ap.add_argument("--k", type=int, default=0, help="train with this fixed k (0: drawn)")
    ap.add_argument("--router-steps", type=int, default=300)
    ap.add_argument("--router-temp", type=float, default=0.02)
    ap.add_argument("--fusion-epochs", type=int, default=3)
    ap.add_argument("--fusion-margin", type=float, default=0.005)
    ap.add_argument("--check", type=Path, default=ROOT / "tests" / "data" / "encoder_check.json",
                    help="where to record a small validation check for the tests")
    ap.add_argument("--check-meeting", default="ES2006a")
    ap.add_argument("--fold", default="", help="K/N: train on the train meetings whose sorted "
                    "position modulo N is not K (out-of-fold encoders for later stages)")
    args = ap.parse_args()

    if args.media and not args.val_media:
        ap.error("--media needs --val-media")
    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    bm = bench_text_tools(BENCH if (BENCH / "build_media.py").exists() else args.train.parent)
    enc = QueryEncoder(models.load_text_model(""))
    train = cached_features(sorted(args.train.glob("*.json")), args.features, bm, enc,
                            args.seed, args.weak_per_meeting)
    val = cached_features(sorted(args.val.glob("*.json")), args.features, bm, enc, args.seed, 0)
    if args.no_weak:
        train = dict(train, queries=[q for q in train["queries"] if q["type"] != "weak"])
    if args.fold:
        k, n = (int(x) for x in args.fold.split("/"))
        train = dict(train, queries=[q for q in train["queries"] if q["meeting"] % n != k])
    n_types = Counter(q["type"] for q in train["queries"])
    log(f"train: {len(train['files'])} meetings, {len(train['win'])} windows, {dict(n_types)}; "
        f"val: {len(val['files'])} meetings, {len(val['queries'])} queries")

    config = {"dim": int(train["win"].shape[1]), "n_mels": 80, "hidden": 256, "channels": 64,
              "k_choices": list(K_CHOICES), "tau": TAU, "hard_negatives": list(HARD),
              "text_model": "all-MiniLM-L6-v2", "audio_trained": False}
    model = QuerySide(learned.init_params(config["dim"], config["n_mels"], config["hidden"],
                                          len(K_CHOICES), config["channels"], args.seed))
    fixed5 = lambda _: 5  # noqa: E731
    before = evaluate(model, val, fixed5)
    log(f"val window NDCG@10 before training (k=5): {before}")
    history = train_text(model, train, val, args, rng)
    after = {str(k): evaluate(model, val, lambda _, k=k: k) for k in K_CHOICES}
    router = train_router(model, train, args)
    after["routed"] = evaluate(model, val, routed_k(model))
    log(f"router: {router}")
    log(f"val window NDCG@10 after training: {after}")
    fusion = None
    if args.media:
        fusion = train_fusion(model, fusion_data(args.media, enc), fusion_data(args.val_media, enc),
                              args, rng)
        config["audio_trained"] = fusion["audio_trained"]
        log(f"fusion: {fusion}")

    params = {k: v.detach().numpy() for k, v in model.p.items()}
    provenance = {
        "data": {"train": f"qmsum-train ({len(train['files'])} meetings; "
                          f"{dict(n_types)} query-window pairs)",
                 "validation": f"qmsum-val ({len(val['files'])} meetings)",
                 "fusion_media": str(args.media.name) if args.media else None},
        "seed": args.seed, "command": "python scripts/train_encoder.py " + " ".join(sys.argv[1:]),
        "commit": git_commit(), "args": {k: (str(v) if isinstance(v, Path) else v)
                                         for k, v in vars(args).items()},
        "history": history, "router": router, "fusion": fusion,
        "validation": {"window_ndcg10_untrained_k5": before, "window_ndcg10": after},
        "seconds": round(time.time() - t_start, 1),
    }
    if args.check and args.out.resolve() == learned.PACKAGED.resolve():
        provenance["check"] = write_check(args.check, args.val / f"{args.check_meeting}.json", bm,
                                          learned.LearnedEncoder(params, config, provenance))
        log(f"check: {provenance['check']}")
    learned.save(args.out, params, config, provenance)
    log(f"wrote {args.out} in {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
