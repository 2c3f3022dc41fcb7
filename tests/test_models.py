"""The visual path on a randomly initialized open_clip model, and the openai-whisper backend on a
tiny randomly initialized checkpoint (no real weights of either can be had offline)."""
from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from clipcut import cache

from .conftest import (copy_recording, query_json, run_cli, search_in_fresh_process,
                       write_vtt)


@pytest.fixture(scope="module")
def random_clip_weights(tmp_path_factory):
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "vit-b-32-random.pt"
    torch.save(model.state_dict(), path)
    return path


def test_visual_path_indexes_frames_and_scores_them(recording, random_clip_weights, tmp_path):
    video = copy_recording(recording, tmp_path)
    write_vtt(recording, video.with_suffix(".vtt"))  # captions: this test is about frames
    proc = run_cli("index", video, "--visual-weights", random_clip_weights)
    assert proc.returncode == 0, proc.stderr
    assert "visual modality off" not in proc.stderr
    idx = cache.load(cache.sidecar_path(video))
    assert idx.meta["modalities"]["visual"] is True
    assert idx.meta["models"]["visual"] == "open_clip:ViT-B-32:vit-b-32-random.pt"
    n = len(idx.frame_times)
    gaps = np.diff(idx.frame_times)
    # 1 fps around each cut, keyframes alone on the still cards in between
    assert n < 0.7 * recording.duration and gaps.min() > 0.5 and gaps.max() <= 10.05
    assert idx.frame_emb.shape == (n, 512)
    np.testing.assert_allclose(np.linalg.norm(idx.frame_emb, axis=1), 1.0, atol=1e-4)
    # a still card's repeated frames reuse one embedding (each card embedded at least once)
    assert len(recording.scene_cuts) < idx.meta["frames"]["embedded"] < n
    assert idx.win_visual.shape == (len(idx.windows), 512)
    # scene cuts come from the same frames: one per topic change, within a second
    assert len(idx.scenes) == len(recording.scene_cuts)
    assert np.abs(idx.scenes - np.array(recording.scene_cuts)).max() <= 1.0
    # a query now carries a visual share of the score
    rc, data, err = query_json(video, "show the slide on the screen with the football match",
                               "--no-cut", "-n", "1", "--min-confidence", "0")
    assert rc == 0, err
    assert data["clips"][0]["modality"]["visual"] != 0.0
    # indexing exported the CLIP text tower: the query ran without torch or open_clip
    clips, loaded = search_in_fresh_process(video, "football", watch=("torch", "open_clip"))
    assert clips[0]["visual"] != 0 and loaded == []
    # without the flag the visual cache stays in use; --force rebuilds it with visual off
    proc = run_cli("index", video, "-v")
    assert proc.returncode == 0 and "cache is current" in proc.stderr
    proc = run_cli("index", video, "--force")
    assert "visual modality off" in proc.stderr
    assert cache.load(cache.sidecar_path(video)).meta["modalities"]["visual"] is False


def test_int8_image_tower_matches_fp32(recording, random_clip_weights):
    from clipcut import models
    from clipcut.index import media, visual

    model, _ = models.load_open_clip("ViT-B-32", str(random_clip_weights))
    frames = np.stack([rgb for _, rgb in media.sample_frames(Path(recording.video), 1.0,
                                                             224, 3.0, 10.0)][:16])
    fp32 = visual.embed_frames(visual.image_tower(model, quantize=False), frames)
    int8 = visual.embed_frames(visual.image_tower(model, quantize=True), frames)
    assert visual.image_tower(model, quantize=True) is not model.visual
    assert np.sum(fp32 * int8, axis=1).min() > 0.99


def test_numpy_clip_text_tower_matches_open_clip(random_clip_weights):
    from clipcut import models
    from clipcut.query import clip_text
    from clipcut.query.encoder import clip_text_vector

    model, tokenizer = models.load_open_clip("ViT-B-32", str(random_clip_weights))
    path = clip_text.export(model, "ViT-B-32", str(random_clip_weights))
    assert path is not None and path.is_file()
    tower = clip_text.ClipTextTower(path)
    for text in ["pricing objection", "The goal's 2nd half: naïve café, ½ &amp; <b>bold</b>!",
                 "日本語 🎉", "", "word " * 100]:
        ids = tokenizer([text])[0].numpy()
        assert tower.tokenizer(text).tolist() == ids[:int(ids.argmax()) + 1].tolist(), text
        assert float(tower.encode(text) @ clip_text_vector(model, tokenizer, text)) > 0.9999


@pytest.fixture(scope="module")
def tiny_whisper_checkpoint(tmp_path_factory):
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2,
                           n_audio_layer=1, n_vocab=51865, n_text_ctx=448, n_text_state=64,
                           n_text_head=2, n_text_layer=1)
    model = Whisper(dims)
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    assert whisper.load_model(str(path), device="cpu").dims == dims
    return path


def test_openai_whisper_backend_loads_and_runs(recording, tiny_whisper_checkpoint, tmp_path):
    from clipcut import models
    from clipcut.index import media, transcript

    model = models.load_openai_whisper(str(tiny_whisper_checkpoint))
    audio = media.load_audio(Path(recording.video))[:16000 * 8]
    words = transcript.transcribe_openai_whisper(model, audio, language="en")
    # random weights transcribe nonsense, but what comes back is well formed
    assert all(0.0 <= w.start <= w.end <= 30.0 and w.text for w in words)

    wav = tmp_path / "short.wav"
    import subprocess
    subprocess.run(["ffmpeg", "-v", "error", "-i", recording.video, "-t", "8", "-vn", str(wav)],
                   check=True)
    proc = run_cli("index", wav, "--asr", "openai-whisper", "--asr-model", tiny_whisper_checkpoint)
    assert proc.returncode == 0, proc.stderr
    idx = cache.load(cache.sidecar_path(wav))
    assert idx.meta["models"]["transcript"].startswith("openai-whisper:")
    assert idx.meta["has_video"] is False and idx.meta["modalities"]["audio"] is True


def test_openai_whisper_without_checkpoint_is_a_clear_error(recording, tmp_path):
    wav = tmp_path / "a.wav"
    import subprocess
    subprocess.run(["ffmpeg", "-v", "error", "-i", recording.video, "-t", "3", "-vn", str(wav)],
                   check=True)
    proc = run_cli("index", wav, "--asr", "openai-whisper")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--asr-model" in proc.stderr
    assert not cache.sidecar_path(wav).exists()


def test_unreadable_visual_weights_fail_in_one_line(recording, tmp_path):
    video = copy_recording(recording, tmp_path)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint" * 64)
    proc = run_cli("index", video, "--visual-weights", bad)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot load open_clip ViT-B-32 weights" in lines[0], proc.stderr
    assert not cache.sidecar_path(video).exists()


def test_video_without_audio_or_captions_is_searched_on_its_frames(random_clip_weights, tmp_path):
    video = tmp_path / "screen.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=20",
                    "-c:v", "libx264", "-preset", "ultrafast", str(video)], check=True)
    proc = run_cli("query", video, "a colourful test pattern", "--no-cut")
    assert proc.returncode == 2 and "--visual-weights FILE to search its frames" in proc.stderr
    proc = run_cli("index", video, "--visual-weights", random_clip_weights)
    assert proc.returncode == 0, proc.stderr
    assert "no speech or caption text found; indexed frames only" in proc.stderr
    idx = cache.load(cache.sidecar_path(video))
    assert idx.meta["modalities"] == {"text": False, "visual": True, "audio": False}
    assert idx.meta["models"]["transcript"] == "none" and len(idx.sent_text) == 0
    rc, data, err = query_json(video, "a colourful test pattern", "--no-cut", "--min-confidence", "0")
    assert rc == 0, err
    assert data["clips"] and all(c["modality"]["visual"] != 0 for c in data["clips"])
    assert all(c["modality"].get("text", 0) == 0 for c in data["clips"])
