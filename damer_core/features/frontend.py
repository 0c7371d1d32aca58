"""The dual-view front-end: log-Mel and cochleagram frames on one shared frame index.

Both views frame the audio identically (frame ``t`` covers samples ``[t*hop, t*hop + win_length)``) and
emit frame ``t`` when its last sample arrives, so every push returns the same number of frames from each.
"""

from __future__ import annotations

import numpy as np

from damer_core.errors import BundleError
from damer_core.features.cochleagram import CochleagramStream
from damer_core.features.mel import MelStream
from damer_core.features.signal import check_mono_block
from damer_core.spec import FeatureSpec


def require_audio_source(spec: FeatureSpec) -> None:
    """Raise :class:`BundleError` unless ``spec`` describes features computed from audio."""
    if spec.source != "audio":
        raise BundleError(
            f"feature spec source is '{spec.source}': its features were precomputed elsewhere and this "
            "front-end cannot compute them from audio; use a model trained with source 'audio'"
        )


class FrontEnd:
    """Streaming log-Mel + cochleagram: push blocks of any size, get both views' new frames.

    Attributes:
        spec: the feature spec served.
        frames_emitted: frames returned since construction or the last :meth:`reset`.

    Raises:
        BundleError: ``spec.source`` is not ``"audio"``.
    """

    def __init__(self, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> None:
        require_audio_source(spec)
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self._mel = MelStream(spec, dtype)
        self._cochleagram = CochleagramStream(spec, dtype)
        self.frames_emitted = 0

    def reset(self) -> None:
        """Forget all audio: the next sample pushed is sample 0 of a new stream."""
        self._mel.reset()
        self._cochleagram.reset()
        self.frames_emitted = 0

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state: both views' states (keys prefixed ``mel.``, ``cochleagram.``)."""
        state = {f"mel.{k}": v for k, v in self._mel.get_state().items()}
        state.update({f"cochleagram.{k}": v for k, v in self._cochleagram.get_state().items()})
        state["frames_emitted"] = np.array(self.frames_emitted, dtype=np.int64)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._mel.set_state(_with_prefix_removed(state, "mel."))
        self._cochleagram.set_state(_with_prefix_removed(state, "cochleagram."))
        self.frames_emitted = int(state["frames_emitted"])

    def push(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Consume ``samples`` (shape ``(n,)``) and return the newly completed frames of both views.

        Returns:
            ``(mel (k, n_mels), cochleagram (k, n_channels))`` in ``dtype``, natural-log power; the same
            ``k`` for both (0 for an empty block or until the first window is complete).

        Raises:
            AudioError: not 1-D, not floating point, or NaN/inf samples (the state is left unchanged).
        """
        block = check_mono_block(samples, self.dtype)
        mel = self._mel.push(block)
        cochleagram = self._cochleagram.push(block)
        self.frames_emitted += mel.shape[0]
        return mel, cochleagram


def _with_prefix_removed(state: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def frontend_offline(
    audio: np.ndarray, spec: FeatureSpec, dtype: type[np.floating] = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Both views of a whole mono signal: ``(mel (T, n_mels), cochleagram (T, n_channels))``,
    ``T = spec.n_frames(len(audio))``.

    Raises:
        BundleError: ``spec.source`` is not ``"audio"``.
        AudioError: as :meth:`FrontEnd.push`.
    """
    return FrontEnd(spec, dtype).push(audio)
