#!/usr/bin/env python3
"""Index speed and query latency on a generated recording.

    python scripts/bench_speed.py [--minutes 10] [--size 1280x720] [--fps 30] [--visual]

Generates (once, in --work) a recording of at least --minutes of espeak-ng speech over colour
cards with scene cuts and silences, indexes it from scratch with ASR (packaged Whisper tiny.en)
and prints seconds per stage, the overall speed as a multiple of real time, and the latency
of cached queries: in-process (models loaded) and the whole `clipcut query --no-cut --json`
command. --visual adds the open_clip ViT-B-32 image tower on a randomly initialized
checkpoint (the same compute as real weights).
"""
from __future__ import annotations

import argparse
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from clipcut import api
from clipcut.config import load_config
from clipcut.index.pipeline import IndexRequest, index_video
from clipcut.synth import TOPICS, make_recording

QUERIES = ["pricing objection", "the winning goal", "how to bake bread", "planets and moons",
           "discount on the annual contract", "the goalkeeper saved a penalty",
           "comet after sunset", "tomato soup recipe", "league table", "finance approval"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--visual", action="store_true", help="index frames with a random ViT-B-32")
    ap.add_argument("--work", type=Path, default=Path("demo/speed"))
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    cycle = 110.0  # seconds of talk per pass over the four topics
    repeat = max(1, math.ceil(args.minutes * 60 / cycle))
    video = args.work / f"talk-{args.minutes:g}min-{args.size}-{args.fps}fps.mp4"
    if not video.exists():
        t = time.perf_counter()
        make_recording(video, TOPICS, size=args.size, fps=args.fps, repeat=repeat)
        print(f"generated {video} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    req = IndexRequest(force=True)
    if args.visual:
        weights = args.work / "vit-b-32-random.pt"
        if not weights.exists():
            import open_clip
            import torch

            torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), weights)
        req = IndexRequest(force=True, visual_weights=str(weights))

    cfg = load_config()
    t0 = time.perf_counter()
    res = index_video(video, cfg, req)
    wall = time.perf_counter() - t0
    duration = res.index.duration
    print(f"\nindex {video.name}: {duration / 60:.1f} min of media, visual "
          f"{'on' if res.index.meta['modalities']['visual'] else 'off'}")
    print(f"{'stage':<24}{'seconds':>9}{'share':>8}")
    for stage, secs in res.timings.items():
        if stage != "total":
            print(f"{stage:<24}{secs:9.1f}{100 * secs / wall:7.0f}%")
    print(f"{'total':<24}{wall:9.1f}   {duration / wall:.1f}x real time")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process): {peak:.0f} MiB")

    # cached queries in-process: models already loaded
    api.search(video, QUERIES[0], cfg, 5)
    lat = []
    for q in QUERIES * 2:
        t = time.perf_counter()
        api.search(video, q, cfg, 5)
        lat.append(time.perf_counter() - t)
    lat.sort()
    print(f"\nquery in-process (cached index, {len(lat)} queries): p50 {1000 * statistics.median(lat):.0f} ms, "
          f"p95 {1000 * lat[int(0.95 * (len(lat) - 1))]:.0f} ms")
    cli = Path(sys.executable).with_name("clipcut")
    cmd_lat = []
    for q in QUERIES[:5]:
        t = time.perf_counter()
        subprocess.run([str(cli), "query", str(video), q, "--no-cut", "--json", "-q"],
                       capture_output=True, check=False)
        cmd_lat.append(time.perf_counter() - t)
    print(f"`clipcut query --no-cut --json` (whole command, {len(cmd_lat)} runs): "
          f"median {statistics.median(cmd_lat):.2f} s, max {max(cmd_lat):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
