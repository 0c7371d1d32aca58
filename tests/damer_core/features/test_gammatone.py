"""Gammatone filterbank design: ERB spacing, centre frequencies, gain, stability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

from damer_core.features.gammatone import centre_frequencies, erb_bandwidth, gammatone_sos
from damer_core.spec import CochleagramSpec, FeatureSpec

SPECS = [
    FeatureSpec(),
    FeatureSpec(sample_rate=16000, cochleagram=CochleagramSpec(n_channels=32, f_min=80.0, f_max=6000.0)),
    FeatureSpec(sample_rate=44100, cochleagram=CochleagramSpec(n_channels=64, f_min=30.0, f_max=18000.0)),
]


def glasberg_moore_erb_number(f: np.ndarray) -> np.ndarray:
    """ERB-number (Cams) in the published Glasberg & Moore (1990) form, with its own rounded constants."""
    return 21.4 * np.log10(1 + 0.00437 * f)


@pytest.mark.parametrize("spec", SPECS)
def test_centre_frequencies_are_erb_spaced_from_f_min_to_f_max(spec):
    cf = centre_frequencies(spec)
    assert cf.shape == (spec.cochleagram.n_channels,)
    assert cf[0] == pytest.approx(spec.cochleagram.f_min, rel=1e-12)
    assert cf[-1] == pytest.approx(spec.cochleagram.f_max, rel=1e-12)
    assert np.all(np.diff(cf) > 0)
    steps = np.diff(glasberg_moore_erb_number(cf))
    # Constant to the rounding of the published constants (0.00437 vs 1 / (9.26449 * 24.7)).
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-3)


def test_default_channels_are_about_half_an_erb_apart():
    cf = centre_frequencies(FeatureSpec())
    cams = glasberg_moore_erb_number(cf)
    assert 0.40 < (cams[-1] - cams[0]) / (cf.size - 1) < 0.45


def test_sections_have_scipy_layout_and_shared_stable_poles():
    sos = gammatone_sos(FeatureSpec()).astype(np.float64)
    assert sos.shape == (84, 4, 6)
    assert gammatone_sos(FeatureSpec()).dtype == np.float32
    np.testing.assert_array_equal(sos[:, :, 3], 1.0)
    for k in range(1, 4):
        np.testing.assert_array_equal(sos[:, k, 4:], sos[:, 0, 4:])
    poles = np.stack([np.roots([1.0, a1, a2]) for a1, a2 in sos[:, 0, 4:]])
    assert np.abs(poles).max() < 1.0


@pytest.mark.parametrize("spec", SPECS)
def test_each_channel_has_unit_gain_at_its_centre_frequency(spec):
    # The stored float32 coefficients, evaluated in float64: only the rounding of b0, b1 remains.
    sos = gammatone_sos(spec).astype(np.float64)
    cf = centre_frequencies(spec)
    gains = np.array(
        [abs(scipy.signal.sosfreqz(s, worN=[f], fs=spec.sample_rate)[1][0]) for s, f in zip(sos, cf, strict=True)]
    )
    np.testing.assert_allclose(gains, 1.0, rtol=1e-5)


@pytest.mark.parametrize("spec", SPECS)
def test_impulse_response_spectrum_peaks_at_the_centre_frequency(spec):
    sos = gammatone_sos(spec).astype(np.float64)
    cf = centre_frequencies(spec)
    impulse = np.zeros(2**15)
    impulse[0] = 1.0
    n_fft = 2**17  # 0.17 Hz bins at 22050 Hz
    freqs = np.fft.rfftfreq(n_fft, 1 / spec.sample_rate)
    for channel in range(cf.size):
        response = scipy.signal.sosfilt(sos[channel], impulse)
        assert abs(response[-1]) < 1e-9 * np.abs(response).max()  # the response has died out
        peak = freqs[np.argmax(np.abs(np.fft.rfft(response, n_fft)))]
        # Slaney's approximation puts the peak within 1% of an ERB of cf, up to 2.5% near Nyquist.
        assert abs(peak - cf[channel]) <= 0.03 * erb_bandwidth(cf[channel]), (channel, cf[channel], peak)


def test_half_power_bandwidth_follows_the_erb():
    """A 4th-order gammatone with b = 1.019 ERB is 2 * sqrt(2**(1/4) - 1) * b = 0.887 ERB wide at -3 dB."""
    spec = FeatureSpec()
    sos = gammatone_sos(spec).astype(np.float64)
    cf = centre_frequencies(spec)
    expected_ratio = 2 * np.sqrt(2**0.25 - 1) * 1.019
    for channel in (10, 20, 40, 60):
        freqs, response = scipy.signal.sosfreqz(sos[channel], worN=2**18, fs=spec.sample_rate)
        above = freqs[np.abs(response) ** 2 >= 0.5]
        width = above.max() - above.min()
        assert width == pytest.approx(expected_ratio * erb_bandwidth(cf[channel]), rel=0.02), channel


def test_design_depends_on_the_spec():
    spec = FeatureSpec()
    narrower = dataclasses.replace(spec, cochleagram=dataclasses.replace(spec.cochleagram, f_max=8000.0))
    assert not np.array_equal(gammatone_sos(spec), gammatone_sos(narrower))
    np.testing.assert_array_equal(gammatone_sos(spec)[0], gammatone_sos(narrower)[0])
