"""A filterbank applied to power spectra in a fixed order of operations: the same bits for a frame whatever
the number of frames computed with it, the number of threads, or the memory they sit in.

A dense product ``power @ filterbank`` goes through BLAS, whose summation order changes with the number of
rows, the thread count and the alignment of the data: the same frame then comes out a few ulps apart
depending on how the audio was split into blocks or how many threads the process had, which makes
streamed and offline features, cached and fresh features, or two runs of one file differ in their last
bits. Mel and similar filterbanks are banded (each filter is non-zero over one contiguous run of frequency
bins), so the product here visits, for every frame and filter, only that run, in ascending bin order,
accumulating in the spectrum's own precision.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(cache=True, nogil=True)
def _banded_product(power: np.ndarray, starts: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    n_frames, n_bands = out.shape
    width = weights.shape[1]
    for t in range(n_frames):
        for b in range(n_bands):
            start = starts[b]
            acc = power.dtype.type(0.0)
            for j in range(width):
                acc += power[t, start + j] * weights[b, j]
            out[t, b] = acc


class BandedFilterbank:
    """``power @ filterbank`` for a filterbank whose columns are each non-zero on one run of rows.

    Args:
        filterbank: ``(n_freqs, n_bands)`` dense filter weights (e.g. ``torchaudio.functional.melscale_fbanks``).
        dtype: the precision of the spectra it will be applied to (``torch.float32`` or ``torch.float64``).
    """

    def __init__(self, filterbank: torch.Tensor, dtype: torch.dtype) -> None:
        dense = filterbank.double().numpy()
        n_freqs, n_bands = dense.shape
        nonzero = [np.flatnonzero(dense[:, b]) for b in range(n_bands)]
        starts = np.array([rows[0] if rows.size else 0 for rows in nonzero], dtype=np.int64)
        stops = np.array([rows[-1] + 1 if rows.size else 0 for rows in nonzero], dtype=np.int64)
        width = max(1, int((stops - starts).max()))
        starts = np.minimum(starts, n_freqs - width)  # every run is read as `width` bins from its start
        weights = np.zeros((n_bands, width))
        for b in range(n_bands):
            weights[b] = dense[starts[b] : starts[b] + width, b]
        self.n_freqs, self.n_bands = n_freqs, n_bands
        self._starts = starts
        self._weights = weights.astype(torch.empty(0, dtype=dtype).numpy().dtype)

    def __call__(self, power: torch.Tensor) -> torch.Tensor:
        """``(..., n_frames, n_freqs)`` -> ``(..., n_frames, n_bands)`` (CPU tensors of the filterbank's dtype)."""
        flat = np.ascontiguousarray(power.reshape(-1, self.n_freqs).numpy())
        out = np.empty((flat.shape[0], self.n_bands), dtype=flat.dtype)
        _banded_product(flat, self._starts, self._weights, out)
        return torch.from_numpy(out).reshape(*power.shape[:-1], self.n_bands)
