"""An output that keeps every update in memory (for ``damer analyze``: plots and per-file summaries)."""

from __future__ import annotations

import numpy as np

from streamer.log_out import COLUMNS
from streamer.update import StreamInfo, Update

_CHUNK = 8192  # rows per preallocated block


class Recorder:
    """Collects ``(time, valence, arousal, p_high_valence, p_high_arousal)`` of every update.

    Rows go into preallocated float64 blocks of :data:`_CHUNK` rows: 40 bytes per update, about 12 MB for a
    two-hour file at the default 43 updates per second, never a copy of everything while growing. Memory
    still grows with the input, so this output is for files, not for endless live streams.
    """

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._filled = _CHUNK  # rows used in the last chunk

    def begin(self, info: StreamInfo) -> None:
        """Nothing to set up."""

    def emit(self, update: Update) -> None:
        if self._filled == _CHUNK:
            self._chunks.append(np.empty((_CHUNK, len(COLUMNS)), dtype=np.float64))
            self._filled = 0
        row = self._chunks[-1][self._filled]
        row[0], row[1], row[2] = update.time, update.valence, update.arousal
        row[3], row[4] = update.p_high_valence, update.p_high_arousal
        self._filled += 1

    def close(self) -> None:
        """Nothing to release: the rows stay readable."""

    def table(self) -> dict[str, np.ndarray]:
        """Column name (see :data:`streamer.log_out.COLUMNS`) -> ``(n,)`` float64 array."""
        if not self._chunks:
            data = np.zeros((0, len(COLUMNS)), dtype=np.float64)
        else:
            data = np.concatenate([*self._chunks[:-1], self._chunks[-1][: self._filled]])
        return {name: data[:, i] for i, name in enumerate(COLUMNS)}
