"""The batch path (:mod:`streamer.batch.compute`) against the live engine, for several files and bundles; its
chunks with left context against one forward pass; several files batched together against one by one; the
model's receptive field; memory of a long file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from damer_core.bundle import Bundle, load_bundle, random_bundle
from damer_core.features.frontend import FrameViews
from damer_core.model import DamerModel, ModelConfig
from damer_core.shipped import shipped_model_path
from damer_core.spec import FeatureSpec, MusicnnViewSpec
from streamer.batch.compute import BATCH_ATOL, Chunk, ChunkedFrames, FileTable, FrontEnds, compute_tables
from streamer.batch.streamed import stream_table
from tests.conftest import SMALL_MODEL
from tests.streamer.conftest import music_signal

THREE_VIEWS = dataclasses.replace(SMALL_MODEL, views=("mel", "cochleagram", "musicnn"))
MUSICNN_SPEC = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=62))


@pytest.fixture(scope="module")
def three_view_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A random three-view bundle that reads the pretrained musicnn view."""
    path = tmp_path_factory.mktemp("three") / "three.safetensors"
    return load_bundle(random_bundle(path, seed=11, config=THREE_VIEWS, spec=MUSICNN_SPEC), "cpu")


@pytest.fixture(scope="module")
def default_bundle() -> Bundle:
    path = shipped_model_path()
    if not path.is_file():
        pytest.skip(f"no shipped default model in this copy ({path})")
    return load_bundle(path, "cpu")


def batch(path: Path, bundle: Bundle, smoothing_s: float = 0.0, chunk_s: float = 60.0) -> FileTable:
    [table] = compute_tables([path], bundle, FrontEnds(bundle.spec), smoothing_s, threading.Event(), chunk_s)
    assert isinstance(table, FileTable), table
    return table


def assert_equal_to_engine(path: Path, bundle: Bundle, smoothing_s: float = 0.0, chunk_s: float = 60.0) -> None:
    """The batch path's table and counts equal the engine's: times exactly, values within BATCH_ATOL."""
    mine, engine = batch(path, bundle, smoothing_s, chunk_s), stream_table(path, bundle, smoothing_s)
    assert mine.table["time"].size > 0
    np.testing.assert_array_equal(mine.table["time"], engine.table["time"])
    for name in ("valence", "arousal", "p_high_valence", "p_high_arousal"):
        np.testing.assert_allclose(mine.table[name], engine.table[name], rtol=0, atol=BATCH_ATOL, err_msg=name)
    assert (mine.audio_s, mine.nonfinite_samples, mine.clipped_samples) == (
        engine.audio_s,
        engine.nonfinite_samples,
        engine.clipped_samples,
    )


FILES = {
    "22050 Hz mono": (lambda: music_signal(7.0, 22050, seed=1), 22050),
    "44100 Hz stereo": (
        lambda: np.stack([music_signal(6.0, 44100, seed=2), music_signal(6.0, 44100, seed=3)], 1),
        44100,
    ),
    "8 kHz": (lambda: music_signal(5.0, 8000, seed=4), 8000),
    "one token": (lambda: music_signal(0.11, 22050, seed=5), 22050),
    "NaN, inf and absurd values": (lambda: _damaged(music_signal(4.0, 22050, seed=6)), 22050),
}


def _damaged(audio: np.ndarray) -> np.ndarray:
    audio = audio.copy()
    audio[1000:1400] = np.nan
    audio[5000] = np.inf
    audio[9000:9010] = 3e30
    return audio


@pytest.mark.parametrize("name", list(FILES))
def test_batch_equals_the_engine_small_bundle(name: str, bundle: Bundle, write_wav) -> None:
    make, rate = FILES[name]
    assert_equal_to_engine(write_wav("music.wav", make(), rate), bundle)


def test_batch_equals_the_engine_across_chunk_boundaries_with_smoothing(bundle: Bundle, write_wav) -> None:
    """Chunks of 1.5 s over 40 s of 44.1 kHz audio: dozens of boundaries, each carrying the whole context."""
    path = write_wav("long.wav", music_signal(40.0, 44100, seed=8), 44100)
    assert bundle.model.context_tokens * bundle.model.frames_per_token * bundle.spec.hop / 22050 < 10
    assert_equal_to_engine(path, bundle, chunk_s=1.5)
    assert_equal_to_engine(path, bundle, smoothing_s=0.5, chunk_s=1.5)


@pytest.mark.parametrize("name", ["44100 Hz stereo", "NaN, inf and absurd values"])
def test_batch_equals_the_engine_three_view_bundle(name: str, three_view_bundle: Bundle, write_wav) -> None:
    make, rate = FILES[name]
    assert_equal_to_engine(write_wav("music.wav", make(), rate), three_view_bundle, chunk_s=2.0)


def test_batch_equals_the_engine_default_model(default_bundle: Bundle, write_wav) -> None:
    """The shipped model, 25 s of 44.1 kHz stereo in chunks of 8 s (its context is 9.6 s: chunks lean on
    the previous ones)."""
    audio = np.stack([music_signal(25.0, 44100, seed=9), music_signal(25.0, 44100, seed=10)], 1)
    assert_equal_to_engine(write_wav("music.wav", audio, 44100), default_bundle, chunk_s=8.0)


def test_files_batched_together_equal_one_by_one(bundle: Bundle, write_wav) -> None:
    """The GPU path's batching on the CPU: chunks of files of different lengths and rates stacked (padded),
    a file failing among them."""
    paths = [
        write_wav("a.wav", music_signal(9.0, 22050, seed=1), 22050),
        write_wav("b.wav", music_signal(3.0, 44100, seed=2), 44100),
        write_wav("c.wav", music_signal(0.3, 16000, seed=3), 16000),
    ]
    broken = paths[0].parent / "broken.wav"
    broken.write_bytes(b"RIFF")
    together = compute_tables(
        [paths[0], broken, *paths[1:]], bundle, FrontEnds(bundle.spec), 0.0, threading.Event(), 2.0
    )
    assert "broken.wav" in str(together[1])
    for path, table in zip(paths, [together[0], *together[2:]], strict=True):
        alone = batch(path, bundle, chunk_s=2.0)
        assert isinstance(table, FileTable)
        np.testing.assert_array_equal(table.table["time"], alone.table["time"])
        for name in ("valence", "arousal"):
            np.testing.assert_allclose(table.table[name], alone.table[name], rtol=0, atol=1e-5)


def test_a_stop_interrupts_the_file(bundle: Bundle, write_wav) -> None:
    stop = threading.Event()
    stop.set()
    path = write_wav("music.wav", music_signal(2.0, 22050), 22050)
    [result] = compute_tables([path], bundle, FrontEnds(bundle.spec), 0.0, stop)
    assert str(result) == f"{path}: interrupted"


@pytest.mark.parametrize(
    "config",
    [
        SMALL_MODEL,
        dataclasses.replace(SMALL_MODEL, temporal_layers=0),
        dataclasses.replace(SMALL_MODEL, dsaf_blocks=0, temporal_layers=2, kernel_size=5),
        dataclasses.replace(SMALL_MODEL, views=("mel",), encoder_blocks=3),
        dataclasses.replace(THREE_VIEWS, temporal_layers=0, dsaf_blocks=0, probe=True),
    ],
    ids=["small", "no temporal layers", "no DSAF", "one view", "three views with the probe"],
)
def test_context_tokens_is_the_receptive_field(config: ModelConfig) -> None:
    """Token ``n``'s outputs have a gradient from the frames of token ``n - context_tokens`` (some output) and
    none from any earlier token (every output; masked attention and causal convolutions give exact zeros)."""
    torch.manual_seed(0)
    model = DamerModel(config, MUSICNN_SPEC).eval()
    per_token, n = config.frames_per_token, model.context_tokens + 5
    frames = [torch.randn(1, (n + 1) * per_token, bins, requires_grad=True) for bins in (128, 84, 200)]
    out = model(*frames)
    reach = 0
    for values in (out.va, out.logits, *out.view_va.values(), *out.view_logits.values()):
        gradients = torch.autograd.grad(values[0, n].sum(), frames, retain_graph=True, allow_unused=True)
        per_token_gradient = sum(g.abs().reshape(n + 1, -1).sum(dim=1) for g in gradients if g is not None)
        reach = max(reach, n - int(torch.nonzero(per_token_gradient).min()))
    assert reach == model.context_tokens


def test_chunks_with_context_equal_one_forward_pass(bundle: Bundle) -> None:
    """Random frames in odd pushes, chunked with the model's context: the kept outputs are the whole pass's."""
    model, rng = bundle.model, np.random.default_rng(0)
    n_frames = 1000
    mel = rng.standard_normal((n_frames, 128)).astype(np.float32)
    coch = rng.standard_normal((n_frames, 84)).astype(np.float32)
    chunks = ChunkedFrames(model.views, model.frames_per_token, model.context_tokens, chunk_tokens=37)
    taken: list[Chunk] = []
    start = 0
    for size in rng.integers(0, 60, 200):
        end = min(start + size, n_frames)
        chunks.add(FrameViews(mel[start:end], coch[start:end], np.zeros((end - start, 0), dtype=np.float32)))
        start += size
        while (chunk := chunks.take(final=start >= n_frames)) is not None:
            taken.append(chunk)
        if start >= n_frames:
            break
    with torch.inference_mode():
        whole = model(torch.from_numpy(mel)[None], torch.from_numpy(coch)[None]).va[0].numpy()
        parts = []
        for chunk in taken:
            assert chunk.context <= model.context_tokens
            out = model(*(torch.from_numpy(chunk.frames[v])[None] for v in model.views)).va[0].numpy()
            parts.append(out[chunk.context :])
    assert sum(chunk.tokens for chunk in taken) == n_frames // model.frames_per_token
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-5)


_MEASURE = """
import json, resource, sys, threading
from pathlib import Path
from damer_core.bundle import load_bundle
from streamer.batch.compute import FrontEnds, compute_tables
bundle = load_bundle(sys.argv[2], "cpu")
compute_tables([Path(sys.argv[3])], bundle, FrontEnds(bundle.spec), 0.0, threading.Event())  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
[table] = compute_tables([Path(sys.argv[1])], bundle, FrontEnds(bundle.spec), 0.0, threading.Event())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": after - before, "updates": int(table.table["time"].size)}))
"""


def test_a_long_file_is_computed_in_bounded_memory(bundle_path: Path, tmp_path: Path) -> None:
    """20 minutes at 44.1 kHz (212 MB decoded as float32, 106 MB at the model's rate): the peak resident
    memory grows by far less than that over a 10 s warm-up file."""
    long_file, short_file = tmp_path / "long.flac", tmp_path / "short.flac"
    minute = (0.3 * music_signal(60.0, 44100, seed=12)).astype(np.float32)
    with soundfile.SoundFile(str(long_file), "w", 44100, 1, subtype="PCM_16", format="FLAC") as file:
        for _ in range(20):
            file.write(minute)
    soundfile.write(str(short_file), minute[: 10 * 44100], 44100, subtype="PCM_16", format="FLAC")
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(long_file), str(bundle_path), str(short_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout.splitlines()[-1])
    print(f"peak RSS growth over 20 min of audio: {measured['growth_kb'] / 1024:.1f} MB")
    assert measured["updates"] == FeatureSpec().n_frames(1200 * 22050) // 2
    assert measured["growth_kb"] < 40 * 1024


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_files_batched_on_the_gpu_equal_the_cpu(write_wav) -> None:
    """The shipped model on CUDA, eight files of different lengths and rates through it together, against
    each file alone on the CPU."""
    path = shipped_model_path()
    cpu, gpu = load_bundle(path, "cpu"), load_bundle(path, "cuda")
    paths = [
        write_wav(f"f{i}.wav", music_signal(3.0 + 4 * i, rate, seed=i), rate)
        for i, rate in enumerate([22050, 44100, 48000, 16000, 22050, 44100, 32000, 22050])
    ]
    together = compute_tables(paths, gpu, FrontEnds(gpu.spec), 0.0, threading.Event(), chunk_s=10.0)
    for path, table in zip(paths, together, strict=True):
        alone = batch(path, cpu)
        assert isinstance(table, FileTable)
        np.testing.assert_array_equal(table.table["time"], alone.table["time"])
        for name in ("valence", "arousal", "p_high_valence", "p_high_arousal"):
            difference = float(np.abs(table.table[name] - alone.table[name]).max())
            print(f"{path.name} {name}: largest GPU - CPU difference {difference:.2e}")
            np.testing.assert_allclose(table.table[name], alone.table[name], rtol=0, atol=1e-3, err_msg=name)
