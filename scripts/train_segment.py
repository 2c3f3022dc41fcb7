#!/usr/bin/env python3
"""Fine-tune the segment side of MiniLM (the index's sentence and window embeddings) on QMSum
train meetings, the query side held fixed, and write a low-rank delta over the packaged model.

    python scripts/train_segment.py --layers 2 --rank 8 --epochs 3 --out /tmp/seg.npz

The top ``--layers`` transformer layers of the packaged all-MiniLM-L6-v2 get LoRA deltas
(rank ``--rank``) on every linear map (attention query/key/value/output, feed-forward in and
out); the layers below stay frozen, so their outputs are computed once per window and kept.
Each step takes a few train meetings: all windows of a meeting go through the tuned layers,
mean pooling, normalization and the shipped text adapter, and every query of the meeting
(annotated, plus weak TF-IDF pairs as in train_encoder.py), encoded by the shipped query
encoder (fixed), scores them; multi-positive InfoNCE over the whole meeting, negatives
close to the query down-weighted as in train_encoder.py. The epoch is picked on the
qmsum-val window NDCG@10 proxy; nothing else of validation is used, no other split is read.

Measured, not shipped (README "Answer quality, second step"): the defaults took 35 minutes
on 2 cores and lifted the proxy from .5019 to .5047, but through the real stage 1 and 2
(`scripts/bench_eval.py --text-delta OUT.npz`) the subset fell from .492 to .483 NDCG@10.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train_encoder as te  # noqa: E402

from clipcut import models  # noqa: E402
from clipcut.query import learned  # noqa: E402
from clipcut.query.encoder import QueryEncoder, lexical_terms  # noqa: E402

BENCH = te.BENCH
LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")


def log(msg: str) -> None:
    print(f"[segment] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- model

class TopLayers(torch.nn.Module):
    """BERT layers ``first``..end of a sentence-transformers MiniLM with LoRA deltas, then mean
    pooling and L2 normalization (the model's own head)."""

    def __init__(self, state: dict[str, torch.Tensor], config, first: int, rank: int,
                 alpha: float, seed: int):
        super().__init__()
        self.first, self.n = first, config.num_hidden_layers
        self.heads, self.eps = config.num_attention_heads, config.layer_norm_eps
        self.w = {k: v.detach().clone() for k, v in state.items()
                  if k.startswith("encoder.layer.")}
        self.scale = alpha / rank
        g = torch.Generator().manual_seed(seed)
        self.lora = torch.nn.ParameterDict()
        for i in range(first, self.n):
            for name in LINEARS:
                W = self.w[f"encoder.layer.{i}.{name}.weight"]
                key = f"{i}.{name}".replace(".", "_")
                self.lora[key + "_A"] = torch.nn.Parameter(
                    torch.randn(rank, W.shape[1], generator=g) / math.sqrt(W.shape[1]))
                self.lora[key + "_B"] = torch.nn.Parameter(torch.zeros(W.shape[0], rank))

    def lin(self, i: int, name: str, x: torch.Tensor) -> torch.Tensor:
        p = f"encoder.layer.{i}.{name}"
        key = f"{i}.{name}".replace(".", "_")
        y = x @ self.w[p + ".weight"].T + self.w[p + ".bias"]
        return y + ((x @ self.lora[key + "_A"].T) @ self.lora[key + "_B"].T) * self.scale

    def ln(self, i: int, name: str, x: torch.Tensor) -> torch.Tensor:
        p = f"encoder.layer.{i}.{name}.LayerNorm"
        return F.layer_norm(x, x.shape[-1:], self.w[p + ".weight"], self.w[p + ".bias"], self.eps)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h (B, L, d) hidden states entering layer ``first``, mask (B, L) -> (B, d) units."""
        B, L, d = h.shape
        hd = d // self.heads
        bias = (~mask)[:, None, None, :].float() * -1e4
        for i in range(self.first, self.n):
            def split(t):
                return t.view(B, L, self.heads, hd).transpose(1, 2)
            q, k, v = (split(self.lin(i, f"attention.self.{n}", h)) for n in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(B, L, d)
            h = self.ln(i, "attention.output", self.lin(i, "attention.output.dense", ctx) + h)
            f = F.gelu(self.lin(i, "intermediate.dense", h))
            h = self.ln(i, "output", self.lin(i, "output.dense", f) + h)
        m = mask.float()[..., None]
        return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)

    def deltas(self) -> dict[str, np.ndarray]:
        """The merged weight changes, as low-rank factors: W += B @ A (scale folded into B)."""
        out = {}
        for i in range(self.first, self.n):
            for name in LINEARS:
                key = f"{i}.{name}".replace(".", "_")
                out[f"encoder.layer.{i}.{name}.A"] = self.lora[key + "_A"].detach().numpy()
                out[f"encoder.layer.{i}.{name}.B"] = (self.lora[key + "_B"].detach()
                                                      * self.scale).numpy()
        return out


@torch.no_grad()
def lower_states(st, texts: list[str], first: int, batch: int = 64):
    """Hidden states entering layer ``first`` (fp16, padded to the meeting's longest), masks,
    and the frozen model's own embeddings (mean pooling of its last layer, normalized)."""
    model = st[0].auto_model
    tok = st.tokenizer
    states, masks, frozen = [], [], []
    L = 0
    for b in range(0, len(texts), batch):
        enc = tok(texts[b:b + batch], padding=True, truncation=True,
                  max_length=st.max_seq_length, return_tensors="pt")
        out = model(**enc, output_hidden_states=True)
        states.append(out.hidden_states[first].half())
        masks.append(enc["attention_mask"].bool())
        w = masks[-1].float()[..., None]
        frozen.append(F.normalize((out.last_hidden_state * w).sum(1) / w.sum(1), dim=-1))
        L = max(L, states[-1].shape[1])
    h = torch.zeros(len(texts), L, states[0].shape[2], dtype=torch.float16)
    m = torch.zeros(len(texts), L, dtype=torch.bool)
    i = 0
    for s, k in zip(states, masks):
        h[i:i + len(s), :s.shape[1]] = s
        m[i:i + len(s), :k.shape[1]] = k
        i += len(s)
    return h, m, torch.cat(frozen).numpy()


# ----------------------------------------------------------------------------- data

def meetings(files: list[Path], bm, st, enc: QueryEncoder, first: int, weak: int, seed: int):
    layouts = [te.meeting_layout(f, bm) for f in files]
    df = Counter(w for lay in layouts for t in lay["texts"] for w in set(lexical_terms(t)))
    n_docs = sum(len(lay["texts"]) for lay in layouts)
    rng = np.random.default_rng(seed)
    out = []
    for f, lay in zip(files, layouts):
        t0 = time.time()
        texts = [t if t.strip() else "." for t in lay["texts"]]
        h, m, frozen = lower_states(st, texts, first)
        qs = lay["queries"] + (te.weak_queries(lay["texts"], df, n_docs, rng, weak) if weak else [])
        qv = np.stack([enc.encode(q["text"]).vector for q in qs]).astype(np.float32)
        sent = np.stack([te.query_tokens(enc, q["text"])[2] for q in qs])
        sent /= np.maximum(np.linalg.norm(sent, axis=1, keepdims=True), 1e-12)
        out.append({"name": f.stem, "h": h, "mask": m, "qv": qv, "frozen": frozen,
                    "rel": np.stack([q["rel"] for q in qs]),
                    "weak": np.array([q["type"] == "weak" for q in qs]),
                    # negatives close to the query under the frozen model count less
                    "neg_weight": learned.downweight(sent @ frozen.T).astype(np.float32)})
        log(f"{f.stem}: {len(texts)} windows, {len(qs)} queries ({time.time() - t0:.1f} s)")
    return out


def embed_meeting(model: TopLayers, m: dict, batch: int = 64) -> torch.Tensor:
    return torch.cat([model(m["h"][b:b + batch].float(), m["mask"][b:b + batch])
                      for b in range(0, len(m["h"]), batch)])


@torch.no_grad()
def proxy(model: TopLayers, data: list[dict], adapt) -> float:
    scores = []
    for m in data:
        win = adapt(embed_meeting(model, m))
        s = (torch.from_numpy(m["qv"]) @ win.T).numpy()
        scores += [te.ndcg10(s[j], m["rel"][j].astype(float))
                   for j in range(len(s)) if not m["weak"][j]]
    return float(np.mean(scores))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=BENCH / "qmsum-train")
    ap.add_argument("--val", type=Path, default=BENCH / "qmsum-val")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--meetings-per-step", type=int, default=2)
    ap.add_argument("--weak-per-meeting", type=int, default=12)
    ap.add_argument("--weak-weight", type=float, default=0.5)
    ap.add_argument("--tau", type=float, default=te.TAU)
    ap.add_argument("--limit", type=int, default=0, help="only the first N train meetings")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    bm = te.bench_text_tools(BENCH)
    st = models.load_text_model("")
    lrn = learned.load(str(learned.PACKAGED))
    enc = QueryEncoder(st, (3, 5, 7, 10), 0.5, lrn)
    first = st[0].auto_model.config.num_hidden_layers - args.layers
    files = sorted(args.train.glob("*.json"))
    if args.limit:
        files = files[:args.limit]
    train = meetings(files, bm, st, enc, first, args.weak_per_meeting, args.seed)
    val = meetings(sorted(args.val.glob("*.json")), bm, st, enc, first, 0, args.seed)
    log(f"features in {time.time() - t_start:.0f} s")

    adapter = torch.from_numpy(lrn.params["text_adapter"])

    def adapt(w):
        return F.normalize(w + w @ adapter, dim=-1)

    model = TopLayers(st[0].auto_model.state_dict(), st[0].auto_model.config, first,
                      args.rank, args.alpha, args.seed)
    with torch.no_grad():  # the untrained top layers reproduce the model's own embeddings
        diff = np.abs(embed_meeting(model, train[0]).numpy() - train[0]["frozen"]).max()
        log(f"top layers vs the frozen model: max |diff| {diff:.2e}")
    before = proxy(model, val, adapt)
    log(f"val window NDCG@10 before: {before:.4f}")
    opt = torch.optim.AdamW(model.lora.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    best = (before, 0, {k: v.detach().clone() for k, v in model.lora.items()})
    history = []
    for epoch in range(args.epochs):
        t0, total, n = time.time(), 0.0, 0
        order = rng.permutation(len(train))
        for b in range(0, len(order), args.meetings_per_step):
            losses = []
            for i in order[b:b + args.meetings_per_step]:
                m = train[i]
                win = adapt(embed_meeting(model, m))
                scores = torch.from_numpy(m["qv"]) @ win.T
                pos = torch.from_numpy(m["rel"])
                loss = te.info_nce(scores, pos, torch.from_numpy(m["neg_weight"]), args.tau)
                qw = torch.from_numpy(np.where(m["weak"], args.weak_weight, 1.0)).float()
                losses.append((loss * qw).sum() / qw.sum())
            loss = torch.stack(losses).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            n += 1
        score = proxy(model, val, adapt)
        history.append({"epoch": epoch + 1, "loss": round(total / n, 4), "val_ndcg10": round(score, 4),
                        "seconds": round(time.time() - t0)})
        log(f"epoch {history[-1]}")
        if score > best[0]:
            best = (score, epoch + 1, {k: v.detach().clone() for k, v in model.lora.items()})
    with torch.no_grad():
        for k, v in best[2].items():
            model.lora[k].copy_(v)
    np.savez(args.out, **model.deltas())
    log(f"before {before:.4f}, best {best[0]:.4f} (epoch {best[1]}); wrote {args.out} "
        f"in {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
