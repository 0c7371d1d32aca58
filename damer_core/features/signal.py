"""Checks on audio entering a front-end: shape, dtype and finiteness.

Documented handling: any floating dtype is accepted and converted to the front-end's dtype; integer PCM,
non-1-D arrays and non-finite samples raise :class:`~damer_core.errors.AudioError`; an empty block is
valid and yields no frames. Finite samples beyond :data:`SAMPLE_LIMIT` (damaged float files hold any value) are
clipped to it, so the float32 powers of the front-ends cannot overflow to inf.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from damer_core.errors import AudioError

SAMPLE_LIMIT = 1e6
"""Largest sample magnitude passed on (120 dB above full scale): its window powers stay far below float32's max."""


def check_mono_block(samples: np.ndarray, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """Validate one block of mono audio and return it as a contiguous array of ``dtype``.

    Args:
        samples: shape ``(n,)``, floating point, nominally in [-1, 1]; ``n`` may be 0.
        dtype: ``np.float32`` or ``np.float64`` (the type or its ``np.dtype``).

    Raises:
        AudioError: not an array, not 1-D (e.g. stereo ``(n, 2)``), integer dtype, or NaN/inf samples.

    Returns:
        shape ``(n,)``, ``dtype``; a clipped copy where a sample exceeds :data:`SAMPLE_LIMIT` in magnitude.
    """
    if not isinstance(samples, np.ndarray):
        raise AudioError(f"audio must be a numpy array, got {type(samples).__name__}")
    if samples.ndim != 1:
        raise AudioError(f"expected mono audio of shape (n,), got shape {samples.shape}; downmix channels first")
    if not np.issubdtype(samples.dtype, np.floating):
        raise AudioError(f"expected floating-point samples in [-1, 1], got dtype {samples.dtype}; convert PCM first")
    block = np.ascontiguousarray(samples, dtype=dtype)
    if block.size and not np.isfinite(block).all():
        bad = np.flatnonzero(~np.isfinite(block))
        raise AudioError(f"{bad.size} non-finite sample(s) (NaN/inf), first at index {bad[0]}")
    if block.size and np.abs(block).max() > SAMPLE_LIMIT:
        block = np.clip(block, -SAMPLE_LIMIT, SAMPLE_LIMIT)
    return block
