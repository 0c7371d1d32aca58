"""Cochleagram kernel against an independent float64 reference (scipy's sosfilt), and its framing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

from damer_core.features.cochleagram import CochleagramStream, cochleagram, pack_sections
from damer_core.features.gammatone import gammatone_sos
from damer_core.features.mel import log_mel
from damer_core.spec import CochleagramSpec, FeatureSpec


def reference_filter(audio: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Every channel through scipy's sosfilt in float64 with the stored float32 coefficients: ``(n, C)``."""
    sos = gammatone_sos(spec).astype(np.float64)
    return np.stack([scipy.signal.sosfilt(sections, audio) for sections in sos], axis=1)


def reference_cochleagram(audio: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """log(max(mean of y**2 over [t*hop, t*hop + win_length), floor)) straight from the definition."""
    power = reference_filter(audio, spec) ** 2
    starts = np.arange(spec.n_frames(audio.size)) * spec.hop
    means = np.stack([power[s : s + spec.win_length].mean(axis=0) for s in starts])
    return np.log(np.maximum(means, spec.cochleagram.log_floor))


def per_sample_spec(spec: FeatureSpec) -> FeatureSpec:
    """One frame per sample, floor far below any output: frame t is log(y[t]**2)."""
    tiny_floor = dataclasses.replace(spec.cochleagram, log_floor=1e-300)
    return dataclasses.replace(spec, hop=1, win_length=1, cochleagram=tiny_floor)


@pytest.mark.parametrize(("dtype", "tolerance"), [(np.float32, 1e-4), (np.float64, 1e-12)])
@pytest.mark.parametrize("signal", ["noise", "music"])
def test_filter_output_equals_scipy_sosfilt(dtype, tolerance, signal, rng, music):
    spec = FeatureSpec()
    audio = rng.standard_normal(6000) * 0.3 if signal == "noise" else music[:6000]
    expected = np.abs(reference_filter(audio, spec))
    actual = np.exp(0.5 * cochleagram(audio, per_sample_spec(spec), dtype).astype(np.float64))
    # |y| from the kernel (the cochleagram only ever sees y**2) against |y| from scipy: relative error of
    # each channel in the 2-norm.
    relative = np.linalg.norm(actual - expected, axis=0) / np.linalg.norm(expected, axis=0)
    assert relative.max() <= tolerance, (relative.argmax(), relative.max())


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec(),
        FeatureSpec(hop=100, win_length=300, cochleagram=CochleagramSpec(n_channels=17, f_min=100.0, f_max=5000.0)),
        FeatureSpec(
            sample_rate=16000, hop=160, win_length=160, cochleagram=CochleagramSpec(n_channels=40, f_max=7000.0)
        ),
    ],
)
@pytest.mark.parametrize(("dtype", "tolerance"), [(np.float32, 5e-4), (np.float64, 1e-10)])
def test_frames_equal_the_definition(spec, dtype, tolerance, music):
    expected = reference_cochleagram(music, spec)
    actual = cochleagram(music, spec, dtype)
    assert actual.dtype == dtype
    assert actual.shape == (spec.n_frames(music.size), spec.cochleagram.n_channels)
    # Absolute error of the natural log = relative error of the power.
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


def test_frame_t_covers_the_same_samples_as_mel_frame_t():
    """A click reaches exactly the frames whose window [t*hop, t*hop + win_length) contains it, in both
    views (the filters keep ringing afterwards, so later cochleagram frames are not checked)."""
    spec = FeatureSpec()
    click_at = 5000
    audio = np.zeros(12000)
    audio[click_at] = 1.0
    starts = np.arange(spec.n_frames(audio.size)) * spec.hop
    contains = (starts <= click_at) & (click_at < starts + spec.win_length)
    before = starts + spec.win_length <= click_at
    coch_hit = cochleagram(audio, spec, np.float64).max(axis=1) > np.log(spec.cochleagram.log_floor)
    mel_hit = log_mel(audio, spec, np.float64).max(axis=1) > np.log(spec.mel.log_floor)
    np.testing.assert_array_equal(mel_hit, contains)
    assert coch_hit[contains].all()
    assert not coch_hit[before].any()


def test_silence_gives_the_log_floor_and_no_nan():
    spec = FeatureSpec()
    frames = cochleagram(np.zeros(spec.win_length * 3), spec)
    np.testing.assert_array_equal(frames, np.float32(np.log(np.float32(spec.cochleagram.log_floor))))


def test_full_scale_square_wave_stays_finite():
    spec = FeatureSpec()
    audio = np.sign(np.sin(2 * np.pi * 100 * np.arange(22050) / spec.sample_rate))
    frames = cochleagram(audio, spec)
    assert np.isfinite(frames).all()
    # Unit gain at cf: the 100 Hz square wave's fundamental (amplitude 4/pi) dominates near 100 Hz.
    assert frames.max() == pytest.approx(np.log((4 / np.pi) ** 2 / 2), abs=0.3)


def test_packing_puts_channel_c_in_group_c_div_16_lane_c_mod_16():
    sos = gammatone_sos(FeatureSpec()).astype(np.float64)
    sections, gain = pack_sections(sos, np.float64)
    assert sections.shape == (6, 4, 3, 16) and gain.shape == (6, 16)
    for channel in (0, 15, 16, 83):
        group, lane = divmod(channel, 16)
        np.testing.assert_allclose(sections[group, :, 0, lane], sos[channel, :, 1] / sos[channel, :, 0], rtol=1e-15)
        np.testing.assert_array_equal(sections[group, :, 1:, lane], sos[channel, :, 4:])
        assert gain[group, lane] == pytest.approx(np.prod(sos[channel, :, 0]), rel=1e-15)
    np.testing.assert_array_equal(sections[5, :, :, 4:], 0.0)  # padding lanes
    np.testing.assert_array_equal(gain[5, 4:], 0.0)


def test_packing_refuses_sections_the_kernel_cannot_run():
    sos = gammatone_sos(FeatureSpec()).astype(np.float64)
    for index, value in [((3, 1, 2), 0.1), ((0, 0, 3), 2.0), ((5, 2, 0), 0.0)]:
        broken = sos.copy()
        broken[index] = value
        with pytest.raises(ValueError, match="one zero"):
            pack_sections(broken)


def test_stream_state_round_trip_and_reset(music):
    spec = FeatureSpec()
    stream = CochleagramStream(spec)
    stream.push(music[:3001])
    snapshot = stream.get_state()
    after = stream.push(music[3001:9000])
    stream.push(np.ones(777))  # the snapshot is a copy: later pushes do not touch it
    other = CochleagramStream(spec)
    other.set_state(snapshot)
    np.testing.assert_array_equal(other.push(music[3001:9000]), after)
    stream.reset()
    np.testing.assert_array_equal(stream.push(music), cochleagram(music, spec))
