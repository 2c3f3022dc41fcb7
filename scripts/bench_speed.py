#!/usr/bin/env python3
"""Index speed, query latency and cut time on generated recordings, every modality on.

    python scripts/bench_speed.py [--minutes 10 90] [--size 1280x720] [--fps 30]
                                  [--no-visual] [--queries 50] [--work demo/speed]
                                  [--asr-model tiny.en]

For each length, generates (once, in --work) a recording of espeak-ng speech over scenes
that alternate between still cards and a moving test pattern (H.264 veryfast, 1280x720 30 fps:
what a screen or camera recording costs to decode), with scene cuts and silences between
topics: one ~2-minute cycle is encoded and repeated with stream copy up to the length.
It indexes each from scratch in a child process (ASR with the default packaged Whisper base,
MiniLM text, audio features, scenes and the open_clip ViT-B-32 image tower on a randomly
initialized checkpoint saved with torch.save(state_dict): the compute of real weights) and
prints seconds and share per stage, the multiple of real time and the child's peak memory.
On the longest recording it then times cached queries (in-process ranking, in-process search
and the whole `clipcut query --no-cut --json` command; p50/p95) and cutting 5 one-minute
clips with re-encoding and with stream copy.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from clipcut.synth import TOPICS, make_recording

QUERIES = ["pricing objection", "the winning goal", "how to bake bread", "planets and moons",
           "discount on the annual contract", "the goalkeeper saved a penalty",
           "comet after sunset", "tomato soup recipe", "league table", "finance approval",
           "stargazing away from city lights", "the referee blew the final whistle",
           "sign a faster winger", "license cost includes support", "knead the dough",
           "Saturn's rings", "revised quote per seat", "roast garlic and onions",
           "extra time", "fifty thousand dollars", "a two year contract at a fixed rate",
           "space telescope nebula", "third place in the league", "dark brown crust",
           "competitor quoted a cheaper price"]


def generate(work: Path, minutes: float, size: str, fps: int) -> Path:
    video = work / f"talk-{minutes:g}min-{size}-{fps}fps.mp4"
    if video.exists():
        return video
    t = time.perf_counter()
    cycle = work / f"cycle-{size}-{fps}fps.mp4"
    if not cycle.exists():
        make_recording(cycle, TOPICS, size=size, fps=fps, moving=True, preset="veryfast")
    from clipcut.index.media import probe

    copies = max(1, math.ceil(minutes * 60 / probe(cycle).duration))
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        listing.write_text(f"file '{cycle.resolve()}'\n" * copies)
        part = video.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                        "-i", str(listing), "-c", "copy", str(part)], check=True)
        part.rename(video)
    print(f"generated {video} ({copies} cycles) in {time.perf_counter() - t:.0f} s",
          file=sys.stderr)
    return video


def random_vit(work: Path) -> Path:
    weights = work / "vit-b-32-random.pt"
    if not weights.exists():
        import open_clip
        import torch

        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), weights)
    return weights


def index_child(video: Path, weights: str, asr_model: str = "") -> None:
    """Runs in the child: index from scratch and print the timings as JSON."""
    from clipcut.config import load_config
    from clipcut.index.pipeline import IndexRequest, index_video

    res = index_video(video, load_config(), IndexRequest(force=True, visual_weights=weights,
                                                         asr_model=asr_model))
    print(json.dumps({"duration": res.index.duration, "timings": res.timings,
                      "frames": res.index.meta["frames"],
                      "modalities": res.index.meta["modalities"]}))


def index_once(video: Path, weights: str, asr_model: str = "") -> dict:
    """Index in a child process; its own peak memory comes from wait4."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(video), weights, asr_model],
                            stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"indexing {video} failed (exit {proc.returncode})")
    res = json.loads(out)
    res["wall"] = time.perf_counter() - t
    res["peak_mib"] = usage.ru_maxrss / 1024
    return res


def print_index(video: Path, res: dict) -> None:
    wall, duration = res["wall"], res["duration"]
    mods = ", ".join(m for m, on in res["modalities"].items() if on)
    print(f"\nindex {video.name}: {duration / 60:.1f} min, modalities: {mods}, "
          f"{res['frames']['sampled']} frames sampled, {res['frames']['embedded']} embedded")
    print("| stage | seconds | share |\n|---|---:|---:|")
    for stage, secs in res["timings"].items():
        if stage != "total":
            print(f"| {stage} | {secs:.1f} | {100 * secs / wall:.0f}% |")
    rest = wall - res["timings"]["total"]
    print(f"| start-up, imports, probe | {rest:.1f} | {100 * rest / wall:.0f}% |")
    print(f"| **total** | **{wall:.1f}** | {duration / wall:.1f}x real time, "
          f"peak memory {res['peak_mib']:.0f} MiB |")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def bench_queries(video: Path, n_queries: int) -> None:
    from clipcut import api
    from clipcut.config import load_config
    from clipcut.query import confidence
    from clipcut.query import pipeline as qpipe

    cfg = load_config()
    queries = (QUERIES * math.ceil(n_queries / len(QUERIES)))[:n_queries]
    idx = api.index_video(video, cfg).index
    visual = idx.meta["modalities"]["visual"]
    api.encode_query(queries[0], [idx], cfg)  # load the encoders once, as a long-lived process would
    rank, encode, whole = [], [], []
    for query in queries:
        t = time.perf_counter()
        _, prior, q = api.encode_query(query, [idx], cfg)
        t1 = time.perf_counter()
        qpipe.select_clips(qpipe.rank_spans(idx, q, cfg.query, prior), cfg.query, 5,
                           confidence.load(cfg.query.confidence_weights))
        t2 = time.perf_counter()
        encode.append(t1 - t)
        rank.append(t2 - t1)
    for query in queries:
        t = time.perf_counter()
        api.search(video, query, cfg, 5)
        whole.append(time.perf_counter() - t)
    print(f"\nqueries on the cached {idx.duration / 60:.0f}-minute index ({len(idx.windows)} "
          f"windows, {len(idx.sent_start)} sentences, {len(idx.frame_times)} frames), "
          f"{len(queries)} queries:")
    print("| what | p50 ms | p95 ms |\n|---|---:|---:|")
    for name, lat in [("ranking: stage 1 + stage 2 + snapping + NMS", rank),
                      ("query encoding (numpy MiniLM + crisp attention"
                       + (", numpy CLIP text tower)" if visual else ")"), encode),
                      ("api.search(): cache load + encoding + ranking", whole)]:
        print(f"| {name} | {1000 * pct(lat, .5):.0f} | {1000 * pct(lat, .95):.0f} |")
    cli = shutil.which("clipcut") or str(Path(sys.executable).with_name("clipcut"))
    cmd = []
    for query in queries:
        t = time.perf_counter()
        subprocess.run([cli, "query", str(video), query, "--no-cut", "--json", "-q"],
                       capture_output=True, check=False)
        cmd.append(time.perf_counter() - t)
    print(f"| whole `clipcut query --no-cut --json` command (s) | {pct(cmd, .5):.2f} s | "
          f"{pct(cmd, .95):.2f} s |")


def bench_cut(video: Path) -> None:
    from clipcut.config import load_config
    from clipcut.cut import cut_clips
    from clipcut.types import Clip

    cfg = load_config()
    clips = [Clip(video=str(video), start=60.0 + 600 * i, end=120.0 + 600 * i, score=1.0,
                  text="", modality={}, rank=i + 1) for i in range(5)]
    print("\ncutting 5 one-minute clips:\n| mode | seconds |\n|---|---:|")
    for mode, reencode in (("re-encode (x264 veryfast, frame-accurate)", True),
                           ("stream copy (--copy, starts on keyframes)", False)):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            cut_clips(clips, Path(out), {str(video): True}, replace(cfg.cut, reencode=reencode))
            print(f"| {mode} | {time.perf_counter() - t:.1f} |")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        index_child(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 90.0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--no-visual", action="store_true", help="leave the image tower out")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--asr-model", default="", help="as clipcut's --asr-model (e.g. tiny.en)")
    ap.add_argument("--work", type=Path, default=Path("demo/speed"))
    ap.add_argument("--no-index", action="store_true",
                    help="skip the index timing (queries and cuts use the existing cache)")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    weights = "" if args.no_visual else str(random_vit(args.work))
    videos = [generate(args.work, m, args.size, args.fps) for m in sorted(args.minutes)]
    for video in [] if args.no_index else videos:
        print_index(video, index_once(video, weights, args.asr_model))
    if args.queries:
        bench_queries(videos[-1], args.queries)
        bench_cut(videos[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
