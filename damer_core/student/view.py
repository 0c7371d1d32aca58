"""The student view on the shared frame grid: one musicnn-like embedding per front-end log-Mel frame.

The student (:class:`~damer_core.student.network.MusicnnStudent`) reads the log-Mel frames the front-end
computes anyway — no second resampler, no second Mel — and keeps its convolutions' past as explicit state,
so frame ``t``'s row depends on frames ``t - 254 .. t`` and is emitted with the frame itself: no lag.
Streamed equals offline for any block sizes (the same frames through the same convolutions).
"""

from __future__ import annotations

import numpy as np
import torch

from damer_core.errors import BundleError
from damer_core.spec import FeatureSpec
from damer_core.student.weights import load_student, shipped_student_path


class StudentViewStream:
    """Incremental student view: push the front-end's new log-Mel frames, get their embeddings.

    Args:
        spec: a feature spec whose ``musicnn`` view is computed by the student (``encoder: student``).
        dtype: output dtype (the network computes in float32).

    State (``get_state``/``set_state``): the convolutions' inputs of the past.

    Raises:
        BundleError: the spec's view is not a student's, or the shipped student is not the spec's.
    """

    def __init__(self, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> None:
        if spec.musicnn is None or spec.musicnn.encoder != "student":
            raise BundleError("the feature spec's musicnn view is not computed by the student")
        if not spec.musicnn.student_sha256:
            raise BundleError("the feature spec names no student weights (features.musicnn.student_sha256)")
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self._network, _ = load_student(shipped_student_path(), spec.musicnn.student_sha256)
        self._taps = self._network.tap_weights()
        self.reset()

    @property
    def size(self) -> int:
        """Values per frame."""
        return self._network.config.size

    def reset(self) -> None:
        """Forget all frames: the next frame pushed is frame 0 of a new stream."""
        self._state = self._network.init_state(1)

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state."""
        return {f"conv{i}": x.numpy().copy() for i, x in enumerate(self._state)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._state = [torch.from_numpy(np.array(state[f"conv{i}"])) for i in range(len(self._state))]

    def push(self, mel: np.ndarray) -> np.ndarray:
        """``(k, n_mels)`` new log-Mel frames -> ``(k, size)`` rows."""
        if mel.shape[0] == 0:
            return np.zeros((0, self.size), dtype=self.dtype)
        with torch.inference_mode():
            frames = torch.from_numpy(np.asarray(mel, dtype=np.float32))[None]
            rows, self._state = self._network.step(frames, self._state, self._taps)
        return rows[0].numpy().astype(self.dtype, copy=False)
