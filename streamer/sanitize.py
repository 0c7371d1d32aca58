"""Input samples made safe for the front-end, in place: what the engine and the batch path both do to every
block read from a source.

NaN and ±inf (a broken driver, a damaged float file) become 0; finite samples beyond
:data:`~damer_core.features.signal.SAMPLE_LIMIT` in magnitude (damaged float data holds any value) are
clipped to it. Both are counted, so that a file's summary can say what was repaired.
"""

from __future__ import annotations

import numpy as np

from damer_core.features.signal import SAMPLE_LIMIT


def sanitize(block: np.ndarray, finite: np.ndarray) -> tuple[int, int]:
    """Repair ``block`` in place and count what was repaired.

    Args:
        block: ``(n,)`` float32 samples, modified in place.
        finite: ``(n,)`` bool scratch array (overwritten), so that no array is allocated per block.

    Returns:
        ``(nonfinite, clipped)``: samples replaced by 0, and finite samples clipped to ``±SAMPLE_LIMIT``.
    """
    nonfinite = clipped = 0
    np.isfinite(block, out=finite)
    if not finite.all():
        bad = ~finite
        nonfinite = int(np.count_nonzero(bad))
        block[bad] = 0.0
    if block.shape[0] and np.abs(block).max() > SAMPLE_LIMIT:
        clipped = int(np.count_nonzero(np.abs(block) > SAMPLE_LIMIT))
        np.clip(block, -SAMPLE_LIMIT, SAMPLE_LIMIT, out=block)
    return nonfinite, clipped
