"""The store interface on both real engines (LanceDB embedded, Milvus Lite), with vectors
whose nearest neighbours are known."""
from __future__ import annotations

import numpy as np
import pytest

from clipcut.library.store import Recording, Rows

DIM = 16


def unit_rows(seed: int, n: int, start: float = 0.0) -> Rows:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t = start + 15.0 * np.arange(n)
    return Rows(t, t + 30.0, v)


def rec(path: str, gen: str, rows: Rows, created: float = 0.0, space: str = "minilm"
        ) -> Recording:
    return Recording(path, gen, "sha-" + path, float(rows.end[-1]), created, len(rows.start), 0,
                     space)


EMPTY = Rows(np.zeros(0), np.zeros(0), np.zeros((0, DIM), np.float32))


@pytest.fixture(params=["lancedb", "milvus"])
def store(request, tmp_path):
    if request.param == "lancedb":
        from clipcut.library.lance import LanceStore

        s = LanceStore(tmp_path / "lance", DIM, write=True)
    else:
        from clipcut.library.milvus import MilvusStore

        s = MilvusStore(str(tmp_path / "milvus.db"), DIM, "test")
    yield s
    s.close()


def test_replace_search_remove(store):
    a, b = unit_rows(1, 20), unit_rows(2, 10)
    store.replace([(rec("a.mp4", "g1", a), a, EMPTY), (rec("sub/b.mp4", "g2", b), b, EMPTY)])
    assert store.rows("window") == 30 and store.rows("sentence") == 0
    assert sorted(store.recordings()) == ["a.mp4", "sub/b.mp4"]
    # each stored vector finds itself first, with its recording, generation and times
    for path, rows, gen in (("a.mp4", a, "g1"), ("sub/b.mp4", b, "g2")):
        for i in (0, len(rows.start) - 1):
            hit = store.search("window", rows.vectors[i], 3)[0]
            assert (hit.path, hit.generation, hit.start, hit.end) == \
                (path, gen, rows.start[i], rows.end[i])
            assert hit.score == pytest.approx(1.0, abs=1e-4)
    # a filter keeps other recordings out even when their rows are closer
    hits = store.search("window", a.vectors[0], 5, paths=["sub/b.mp4"])
    assert len(hits) == 5 and {h.path for h in hits} == {"sub/b.mp4"}
    assert store.search("window", a.vectors[0], 5, paths=[]) == []

    # re-indexed: the new generation's rows replace the old ones, in the catalog too
    a2 = unit_rows(3, 12, start=100.0)
    store.replace([(rec("a.mp4", "g3", a2), a2, EMPTY)])
    assert store.rows("window") == 22
    assert store.recordings()["a.mp4"].generation == "g3"
    assert {h.generation for h in store.search("window", a.vectors[0], 22) if h.path == "a.mp4"} == {"g3"}

    store.remove(["sub/b.mp4"])
    assert sorted(store.recordings()) == ["a.mp4"] and store.rows("window") == 12
    assert {h.path for h in store.search("window", b.vectors[0], 50)} == {"a.mp4"}


def test_paths_with_quotes_and_unicode(store, monkeypatch):
    monkeypatch.setattr("clipcut.library.milvus.PAGE", 2)  # the catalog is read in pages
    rows = unit_rows(4, 3)
    names = ["it's \"quoted\".mp4", "caf\u00e9/r\u00e9union.mp4", "z/last.mp4"]
    store.replace([(rec(n, f"g{i}", rows), rows, rows) for i, n in enumerate(names)])
    assert sorted(store.recordings()) == sorted(names)
    assert {h.path for h in store.search("sentence", rows.vectors[0], 6, paths=[names[0]])} == {names[0]}
    store.remove([names[0]])
    assert sorted(store.recordings()) == names[1:] and store.rows("sentence") == 6


def test_recordings_in_other_languages_have_tables_of_their_own(store):
    from clipcut.library.store import E5_DIM

    rng = np.random.default_rng(5)
    v = rng.normal(size=(6, E5_DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t = 15.0 * np.arange(6)
    e5 = Rows(t, t + 30.0, v)  # the multilingual encoder's vectors: another size, another space
    en = unit_rows(6, 4)
    store.replace([(rec("talk.mp4", "g1", en), en, en),
                   (rec("charla.mp4", "g2", e5, space="e5"), e5, e5)])
    assert store.rows("window") == store.rows("sentence") == 4
    assert store.rows("window_e5") == store.rows("sentence_e5") == 6
    assert store.recordings()["charla.mp4"].space == "e5"
    assert store.recordings()["talk.mp4"].space == "minilm"
    hit = store.search("sentence_e5", e5.vectors[2], 3)[0]
    assert (hit.path, hit.start) == ("charla.mp4", t[2])
    # re-indexed in the other language (a --language fix): its rows move to the other space
    store.replace([(rec("charla.mp4", "g3", en), en, en)])
    assert store.rows("window_e5") == store.rows("sentence_e5") == 0
    assert store.rows("window") == 8 and store.recordings()["charla.mp4"].space == "minilm"
    store.remove(["charla.mp4", "talk.mp4"])
    assert store.recordings() == {} and store.rows("window") == 0
