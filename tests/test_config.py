import pytest

from clipcut.config import load_config
from clipcut.errors import ClipcutError


def test_defaults_load_with_units_from_design():
    cfg = load_config()
    assert cfg.index.window == 30.0 and cfg.index.hop == 15.0
    assert cfg.audio.n_mels == 80 and cfg.audio.win_length == 0.025 and cfg.audio.hop_length == 0.01
    assert cfg.audio.silence_db == -40.0 and cfg.audio.silence_min == 0.5
    assert cfg.query.crisp_k == (3, 5, 7, 10) and cfg.query.stage1_top == 100
    assert cfg.query.nms_overlap == 0.3 and cfg.query.dedup_cosine == 0.85


def test_override_file_changes_keys_and_cache_digest(tmp_path):
    base = load_config()
    f = tmp_path / "c.toml"
    f.write_text("[index]\nwindow = 20\nhop = 10\n[query]\nmin_len = 5\n")
    cfg = load_config(f)
    assert cfg.index.window == 20.0 and cfg.query.min_len == 5.0
    assert cfg.index_digest() != base.index_digest()
    # query-only changes leave caches valid
    g = tmp_path / "q.toml"
    g.write_text("[query]\nmin_len = 5\n")
    assert load_config(g).index_digest() == base.index_digest()


def test_decoding_keys_shape_only_speech_caches(tmp_path):
    base = load_config()
    f = tmp_path / "asr.toml"
    f.write_text("[asr]\nbatch_size = 0\nchunk_length = 30\n")
    cfg = load_config(f)
    assert cfg.index_digest() != base.index_digest()
    assert cfg.index_digest(asr=False) == base.index_digest(asr=False)  # captions: still current
    h = tmp_path / "lang.toml"
    h.write_text("[asr]\nmax_sentence = 20\n")  # sentence splitting shapes captions too
    assert load_config(h).index_digest(asr=False) != base.index_digest(asr=False)


@pytest.mark.parametrize("text", ["[index]\nwindoww = 3\n", "[nope]\na = 1\n",
                                  "[index]\nwindow = 'long'\n", "[index]\nhop = 60\n", "x = [\n"])
def test_bad_overrides_are_one_clear_error(tmp_path, text):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ClipcutError):
        load_config(f)
