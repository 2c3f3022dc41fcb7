"""Every input of the bad-and-awkward corpus (tests/corpus.py) gets its expected outcome: the
audio-only, odd-frame-rate, rotated, surround, narrow-band and oddly named files work; the
broken ones fail in one line with exit 2; nothing prints a traceback or leaves files behind."""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, corpus.build(root)


def test_every_input_gets_its_expected_outcome(cases):
    root, built = cases
    assert len(built) >= 20
    before = {p for p in root.rglob("*")}
    problems = []
    for case in built:
        problem = corpus.check(case, corpus.run(case))
        if problem:
            problems.append(f"{case.name}: {problem}")
    assert problems == []
    # failed inputs leave nothing beside them; good ones leave exactly their cache (and an
    # indexed folder its library)
    added = sorted(str(p.relative_to(root)) for p in set(root.rglob("*")) - before)
    assert all(Path(a).name.endswith(".clipcut.npz") or ".clipcut" in Path(a).parts
               for a in added), added
    assert not any(".clipcut" in Path(a).parts and not a.startswith("mixed/") for a in added)
    for bad in ("zero-byte", "text-as-mp4", "no-moov", "no-audio", "bad-captions",
                "empty-captions"):
        assert not any(a.startswith(bad + "/") for a in added), added
