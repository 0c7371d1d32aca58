"""Gammatone filterbank design after Slaney (Apple TR-35, 1993), as cascaded second-order sections.

Centre frequencies are spaced uniformly on Slaney's ERB-rate scale ``log(f + EAR_Q * MIN_BANDWIDTH)``
(Glasberg & Moore's ERB with ``EAR_Q = 9.26449``, ``MIN_BANDWIDTH = 24.7`` Hz, order 1), from
``spec.cochleagram.f_min`` to ``spec.cochleagram.f_max`` inclusive, lowest channel first. (Slaney's
``ERBSpace`` lists the channels high to low and stops one step below the top frequency; here both ends are
channels, as :class:`~damer_core.spec.CochleagramSpec` defines them.)

Each channel is Slaney's 4th-order gammatone approximation: four 2nd-order sections that share one pair
of complex poles (radius ``exp(-2*pi*1.019*ERB/fs)``, angle ``2*pi*cf/fs``) and differ only in their real
zero, ``r * (cos w + s_k sin w)`` with ``s_k = ±sqrt(3 ± 2**1.5)``. Each section is scaled to unit gain
at the centre frequency, so the channel has unit gain there too and the signal keeps a similar scale
between sections (which matters in float32).

The design runs in float64; coefficients are stored as float32. The pole coefficients are rounded to
float32 *before* the gains are computed, so the stored filters (not just the ideal ones) have unit gain at
their centre frequencies; rounding alone would move the 50 Hz channel's gain by about 3e-4.
"""

from __future__ import annotations

import numpy as np

from damer_core.spec import FeatureSpec

EAR_Q = 9.26449
"""Glasberg & Moore's asymptotic filter quality (Slaney's ``EarQ``)."""

MIN_BANDWIDTH = 24.7
"""Glasberg & Moore's minimum bandwidth in Hz (Slaney's ``minBW``)."""

_BANDWIDTH_FACTOR = 1.019
"""Ratio of a 4th-order gammatone's ``b`` parameter to the ERB (Patterson et al.)."""

_ZERO_SPREADS = np.array([np.sqrt(3 + 2**1.5), -np.sqrt(3 + 2**1.5), np.sqrt(3 - 2**1.5), -np.sqrt(3 - 2**1.5)])
"""``s_k`` of the four sections' zeros ``r * (cos w + s_k * sin w)`` (Slaney's A11..A14)."""


def erb_bandwidth(frequency: np.ndarray) -> np.ndarray:
    """Equivalent rectangular bandwidth in Hz at ``frequency`` Hz (order 1); any shape, same shape out."""
    return frequency / EAR_Q + MIN_BANDWIDTH


def erb_space(f_min: float, f_max: float, n: int) -> np.ndarray:
    """``n`` frequencies in Hz, uniformly spaced on the ERB-rate scale from ``f_min`` to ``f_max``.

    Returns:
        float64 array of shape ``(n,)``, increasing, first ``f_min``, last ``f_max`` (``n == 1``: ``f_min``).
    """
    offset = EAR_Q * MIN_BANDWIDTH
    rates = np.linspace(np.log(f_min + offset), np.log(f_max + offset), n)
    frequencies = np.exp(rates) - offset
    frequencies[0] = f_min
    if n > 1:
        frequencies[-1] = f_max
    return frequencies


def centre_frequencies(spec: FeatureSpec) -> np.ndarray:
    """Centre frequencies in Hz of the cochleagram channels, shape ``(n_channels,)``, float64, low to high."""
    cochleagram = spec.cochleagram
    return erb_space(cochleagram.f_min, cochleagram.f_max, cochleagram.n_channels)


def gammatone_sos(spec: FeatureSpec) -> np.ndarray:
    """Second-order sections of the gammatone filterbank.

    Returns:
        float32 array of shape ``(n_channels, 4, 6)``; row ``[c, k]`` is section ``k`` of channel ``c`` as
        ``(b0, b1, b2, 1, a1, a2)`` (scipy's ``sos`` convention), channels ordered low to high frequency.
    """
    cf = centre_frequencies(spec)
    period = 1.0 / spec.sample_rate
    radius = np.exp(-2 * np.pi * _BANDWIDTH_FACTOR * erb_bandwidth(cf) * period)
    angle = 2 * np.pi * cf * period

    a1 = (-2 * radius * np.cos(angle)).astype(np.float32).astype(np.float64)
    a2 = (radius**2).astype(np.float32).astype(np.float64)
    z1 = np.exp(-1j * angle)
    denominator_at_cf = 1 + a1 * z1 + a2 * z1**2

    sos = np.zeros((cf.size, 4, 6))
    for k, spread in enumerate(_ZERO_SPREADS):
        b1 = -radius * (np.cos(angle) + spread * np.sin(angle))
        gain = np.abs((1 + b1 * z1) / denominator_at_cf)
        sos[:, k, 0] = 1 / gain
        sos[:, k, 1] = b1 / gain
        sos[:, k, 3] = 1
        sos[:, k, 4] = a1
        sos[:, k, 5] = a2
    return sos.astype(np.float32)
