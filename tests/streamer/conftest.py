"""Fixtures of the engine tests: the small random model bundle loaded, music-like test signals, and the
offline reference computation (resample + frontend_offline + DamerModel.forward). The bundle file itself
(``bundle_path``) and ``write_wav`` are shared by the whole suite (``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio

from damer_core.bundle import Bundle, load_bundle
from damer_core.features.frontend import frontend_offline


@pytest.fixture(scope="session")
def bundle(bundle_path: Path) -> Bundle:
    torch.set_num_threads(1)
    return load_bundle(bundle_path, "cpu")


def music_signal(seconds: float, rate: int, seed: int = 7) -> np.ndarray:
    """A music-like float32 signal: a chord sequence with attacks and decays, a bass line and noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    beat = 0.25
    ring_out = int(2.0 * rate)  # a note has decayed by 80 dB after 2 s
    for start in np.arange(0.0, seconds, beat):
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        first = int(np.ceil(start * rate))
        local = t[first : first + ring_out] - start
        envelope = np.exp(-6.0 * local)
        for ratio in (1.0, 1.26, 1.5, 2.0):
            out[first : first + ring_out] += 0.08 * envelope * np.sin(2 * np.pi * root * ratio * local)
    out += 0.01 * rng.standard_normal(n)
    return out.astype(np.float32)


def offline_reference(bundle: Bundle, audio: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """The offline computation the engine must reproduce on a whole file: times, va (n, 2), p_high (n, 2)."""
    audio = audio.astype(np.float32)
    if rate != bundle.spec.sample_rate:
        tensor = torch.from_numpy(audio.astype(np.float64))
        audio = torchaudio.functional.resample(tensor, rate, bundle.spec.sample_rate).numpy().astype(np.float32)
    views = frontend_offline(audio, bundle.spec)
    with torch.inference_mode():
        output = bundle.model(*(torch.from_numpy(view)[None] for view in views))
    n = output.va.shape[1]
    times = np.array([bundle.model.token_end_seconds(i) for i in range(n)])
    return {"time": times, "va": output.va[0].numpy(), "p_high": torch.sigmoid(output.logits[0]).numpy()}
