"""Property-based tests of the front-end (log-Mel + cochleagram) and the streaming model on hostile signals:
silence, subnormal samples, full-scale square waves, noise from -120 dBFS to full scale, impulses, and NaN
bursts, pushed in random block splits.

Properties: every finite input gives finite features and finite model outputs, and streamed == offline
(front-end: Mel within 1e-5 in the log domain, cochleagram bit for bit; model: relative error < 1e-5); a
block with NaN/inf raises the documented :class:`AudioError` and leaves the stream as if that block had
never been pushed. Example counts are modest (derandomised, so every run tries the same signals) and every
example must finish within :data:`DEADLINE`.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damer_core.errors import AudioError
from damer_core.features.frontend import FrontEnd, frontend_offline
from damer_core.model import DamerModel
from damer_core.spec import CochleagramSpec, FeatureSpec, MelSpec
from tests.conftest import SMALL_MODEL

DEADLINE = timedelta(seconds=5)
PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=DEADLINE, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
SPECS = {
    "default": FeatureSpec(),
    "hop100-win300": FeatureSpec(
        hop=100, win_length=300, mel=MelSpec(n_mels=32), cochleagram=CochleagramSpec(n_channels=20, f_max=9000.0)
    ),
}
MEL_TOLERANCE = 1e-5
MODEL_TOLERANCE = 1e-5
KINDS = ("silence", "subnormal", "square", "noise", "impulses")


def segment(kind: str, n: int, seed: int) -> np.ndarray:
    """``n`` float32 samples of one kind of hostile signal."""
    rng = np.random.default_rng(seed)
    if kind == "silence":
        return np.zeros(n, np.float32)
    if kind == "subnormal":  # below float32's smallest normal number (1.2e-38)
        return (rng.choice([-1.0, 1.0], n) * rng.uniform(1e-45, 1e-38, n)).astype(np.float32)
    if kind == "square":  # full scale, +1/-1, a random period
        period = int(rng.integers(2, 400))
        return np.where((np.arange(n) // (period // 2 or 1)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == "noise":
        return (10 ** rng.uniform(-6, 0) * rng.uniform(-1, 1, n)).astype(np.float32)
    audio = np.zeros(n, np.float32)
    audio[rng.integers(0, n, max(1, n // 500))] = rng.choice([-1.0, 1.0])
    return audio


signals = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(1, 2500), st.integers(0, 2**32 - 1)), min_size=1, max_size=5
).map(lambda parts: np.concatenate([segment(*part) for part in parts]))
# Block sizes, cycled over the signal; empty blocks included, but never only empty ones.
splits = st.lists(st.integers(0, 1500), min_size=1, max_size=12).map(lambda sizes: sizes if any(sizes) else [*sizes, 1])


def blocks(audio: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``audio`` cut into blocks of the given sizes, cycled (empty blocks included)."""
    out, start, i = [], 0, 0
    while start < audio.size:
        size = sizes[i % len(sizes)]
        out.append(audio[start : start + size])
        start, i = start + size, i + 1
    return out


def push_all(front_end: FrontEnd, parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pushed = [front_end.push(part) for part in parts] or [front_end.push(np.zeros(0, np.float32))]
    return np.concatenate([p.mel for p in pushed]), np.concatenate([p.coch for p in pushed])


@pytest.fixture(scope="module", autouse=True)
def warm_kernels() -> None:
    """Load the compiled cochleagram kernel once, so that no example pays for it against the deadline."""
    for spec in SPECS.values():
        frontend_offline(np.zeros(4096, np.float32), spec)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
@PROPERTY_SETTINGS
@given(audio=signals, sizes=splits)
def test_front_end_is_finite_and_streams_like_offline(spec: FeatureSpec, audio: np.ndarray, sizes: list[int]) -> None:
    offline = frontend_offline(audio, spec)
    mel, coch = push_all(FrontEnd(spec), blocks(audio, sizes))
    assert mel.shape == offline.mel.shape == (spec.n_frames(audio.size), spec.mel.n_mels)
    assert np.isfinite(mel).all() and np.isfinite(coch).all()
    np.testing.assert_allclose(mel, offline.mel, rtol=0, atol=MEL_TOLERANCE)
    np.testing.assert_array_equal(coch, offline.coch)


@PROPERTY_SETTINGS
@given(
    audio=signals,
    sizes=splits,
    where=st.floats(0, 1),
    burst=st.integers(1, 300),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_nan_burst_is_refused_and_leaves_the_stream_untouched(audio, sizes, where, burst, value) -> None:
    spec = SPECS["hop100-win300"]
    parts = blocks(audio, sizes)
    at = int(where * len(parts))
    bad = np.full(burst, value, np.float32)
    bad[: burst // 2] = 0.1  # finite samples before the burst in the same block are refused with it
    front_end = FrontEnd(spec)
    before = push_all(front_end, parts[:at])
    with pytest.raises(AudioError, match="non-finite"):
        front_end.push(bad)
    after = push_all(front_end, parts[at:])
    offline = frontend_offline(audio, spec)
    np.testing.assert_allclose(np.concatenate([before[0], after[0]]), offline.mel, rtol=0, atol=MEL_TOLERANCE)
    np.testing.assert_array_equal(np.concatenate([before[1], after[1]]), offline.coch)


@pytest.fixture(scope="module")
def model() -> DamerModel:
    torch.manual_seed(11)
    return DamerModel(SMALL_MODEL, SPECS["hop100-win300"]).eval()


@PROPERTY_SETTINGS
@given(audio=signals, sizes=splits)
def test_model_streams_like_offline_with_finite_outputs(model: DamerModel, audio: np.ndarray, sizes: list[int]) -> None:
    """Front-end and model together, block by block as the engine runs them, against the offline pass."""
    spec = model.spec
    front_end, streamer = FrontEnd(spec), model.streaming()
    outputs = [streamer.push(*front_end.push(part)) for part in blocks(audio, sizes)]
    streamed = torch.cat([o.va for o in outputs], dim=1), torch.cat([o.logits for o in outputs], dim=1)
    with torch.inference_mode():
        offline = model(*(torch.from_numpy(view)[None] for view in frontend_offline(audio, spec)))
    assert streamed[0].shape == offline.va.shape
    for got, want in zip(streamed, (offline.va, offline.logits), strict=True):
        assert torch.isfinite(got).all()
        if want.numel():
            assert (
                float((got.double() - want.double()).norm() / want.double().norm().clamp_min(1e-12)) < MODEL_TOLERANCE
            )


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
@settings(max_examples=10, deadline=DEADLINE, derandomize=True)
@given(level=st.floats(1e13, 3e38), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def test_features_stay_finite_for_every_finite_sample(spec: FeatureSpec, level: float, n: int, seed: int) -> None:
    """Damaged float files hold finite samples of any size; features must stay finite (DESIGN: never NaN)."""
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal(4 * spec.win_length)).astype(np.float32)
    audio[rng.integers(0, audio.size, n)] = np.float32(level) * rng.choice([-1.0, 1.0])
    views = frontend_offline(audio, spec)
    assert np.isfinite(views.mel).all() and np.isfinite(views.coch).all()
