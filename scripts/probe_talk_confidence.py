#!/usr/bin/env python3
"""Top-clip confidence on a short generated talk under one or more calibrations.

    python scripts/probe_talk_confidence.py [CALIBRATION.json ...]   # none: the shipped one

The talk is the tests' (clipcut.synth: four topics, about two minutes, espeak-ng), indexed
with the defaults in a temporary folder. Paraphrases of each topic share no content word
with its sentences (clipcut.synth, as in tests/test_confidence.py): each should reach the calibration's
min_confidence; queries about things the talk never mentions should not.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from clipcut import api, synth
from clipcut.config import load_config
from clipcut.synth import OFF_TOPIC, PARAPHRASES


def main() -> int:
    calibrations = sys.argv[1:] or [""]
    with tempfile.TemporaryDirectory() as tmp:
        talk = synth.make_recording(Path(tmp) / "talk.mp4")
        base = load_config()
        api.index_video(Path(talk.video), base)
        for path in calibrations:
            doc = json.loads(Path(path).read_text()) if path else {}
            floor = doc.get("provenance", {}).get("min_confidence", base.query.min_confidence)
            cfg = base.with_section("query", confidence_weights=path, min_confidence=0.0)
            row = []
            for kind, texts in (("paraphrase", list(PARAPHRASES.values())), ("off", OFF_TOPIC)):
                for text in texts:
                    clips = api.search(talk.video, text, cfg, 1).clips
                    row.append((kind, clips[0].confidence if clips else 0.0))
            found = sum(k == "paraphrase" and c >= floor for k, c in row)
            rejected = sum(k == "off" and c < floor for k, c in row)
            print(f"{path or 'shipped'}: floor {floor:.3f}; paraphrases "
                  + " ".join(f"{c:.3f}" for k, c in row if k == "paraphrase")
                  + f" ({found}/{len(PARAPHRASES)} found); off-topic "
                  + " ".join(f"{c:.3f}" for k, c in row if k == "off")
                  + f" ({rejected}/{len(OFF_TOPIC)} no match)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
