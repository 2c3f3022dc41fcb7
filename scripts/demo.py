#!/usr/bin/env python3
"""`make demo`: generate a demo recording (once), index it, and cut the clips for a query.

The recording is synthetic (espeak-ng speech on four topics, a colour card per topic), so it
needs no network; everything runs on the packaged offline models.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
CLIPCUT = Path(sys.executable).with_name("clipcut")


def main() -> int:
    video = DEMO / "sales-call.mp4"
    if not video.exists():
        from clipcut.synth import make_recording

        print(f"demo: generating {video.relative_to(ROOT)}", file=sys.stderr)
        rec = make_recording(video)
        rec.save_manifest(DEMO / "sales-call.truth.json")
    for old in [*(DEMO / "clips").glob("*.mp4"), *(DEMO / "clips").glob("*.srt")]:
        old.unlink()  # demo/clips holds only this demo's output
    # the first query also writes subtitles, a results page, a reel and an editor timeline
    outputs = ["--subs", "--html", "demo/results.html", "--reel", "demo/highlights.mp4",
               "--export", "demo/timeline.otio"]
    queries = [("pricing objection", 3, outputs), ("the telescope and the planets", 2, [])]
    for query, n, extra in queries:
        cmd = [str(CLIPCUT), "query", str(video), query, "-n", str(n), "-o", str(DEMO / "clips"),
               *[str(ROOT / a) if a.startswith("demo/") else a for a in extra]]
        print(f"demo: $ clipcut query {video.relative_to(ROOT)} {query!r} -n {n} -o demo/clips"
              + "".join(f" {a}" for a in extra), file=sys.stderr)
        rc = subprocess.run(cmd, env={**os.environ, "COLUMNS": os.environ.get("COLUMNS", "110")}).returncode
        if rc != 0:
            return rc
    clips = sorted((DEMO / "clips").glob("*.mp4"))
    print(f"demo: {len(clips)} clip files in demo/clips/; open demo/results.html in a browser",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
