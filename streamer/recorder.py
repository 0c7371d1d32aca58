"""An output that keeps every update in memory (for ``damer analyze``: plots and per-file summaries)."""

from __future__ import annotations

import numpy as np

from streamer.log_out import COLUMNS
from streamer.update import StreamInfo, Update


class Recorder:
    """Collects ``(time, valence, arousal, p_high_valence, p_high_arousal)`` of every update.

    Memory grows with the input (40 bytes per update, 43 updates per second of audio at the defaults), so
    this output is for files, not for endless live streams.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[float, float, float, float, float]] = []

    def begin(self, info: StreamInfo) -> None:
        """Nothing to set up."""

    def emit(self, update: Update) -> None:
        self._rows.append((update.time, update.valence, update.arousal, update.p_high_valence, update.p_high_arousal))

    def close(self) -> None:
        """Nothing to release: the rows stay readable."""

    def table(self) -> dict[str, np.ndarray]:
        """Column name (see :data:`streamer.log_out.COLUMNS`) -> ``(n,)`` float64 array."""
        data = np.asarray(self._rows, dtype=np.float64).reshape(-1, len(COLUMNS))
        return {name: data[:, i] for i, name in enumerate(COLUMNS)}
