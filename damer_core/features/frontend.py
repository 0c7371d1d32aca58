"""The front-end: log-Mel and cochleagram frames, and the pretrained musicnn view when the spec has one,
on one shared frame index.

Every view emits frame ``t`` (samples ``[t*hop, t*hop + win_length)``) when its last sample arrives, so
every push returns the same number of frames from each. The musicnn view's value at frame ``t`` is the
musicnn embedding of the audio up to that moment, computed by musicnn itself
(:mod:`damer_core.features.musicnn_view`) or by its student from the log-Mel frames
(:mod:`damer_core.student.view`), as the spec says.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from damer_core.errors import BundleError
from damer_core.features.cochleagram import CochleagramStream
from damer_core.features.mel import MelStream
from damer_core.features.musicnn_view import MusicnnViewStream
from damer_core.features.signal import check_mono_block
from damer_core.spec import FeatureSpec
from damer_core.student.view import StudentViewStream


def require_audio_source(spec: FeatureSpec) -> None:
    """Raise :class:`BundleError` unless ``spec`` describes features computed from audio."""
    if spec.source != "audio":
        raise BundleError(
            f"feature spec source is '{spec.source}': its features were precomputed elsewhere and this "
            "front-end cannot compute them from audio; use a model trained with source 'audio'"
        )


class FrameViews(NamedTuple):
    """The frames of every view completed by one push (the same ``k`` for all), in ``dtype``.

    ``model.push(*views)`` hands them to a :class:`~damer_core.model.StreamingDamer`.

    Attributes:
        mel: ``(k, n_mels)`` natural-log Mel power.
        coch: ``(k, n_channels)`` natural-log cochleagram power.
        musicnn: ``(k, size)`` musicnn embeddings; ``(k, 0)`` when the spec has no musicnn view.
    """

    mel: np.ndarray
    coch: np.ndarray
    musicnn: np.ndarray


class FrontEnd:
    """Streaming front-end: push blocks of any size, get every view's new frames.

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
        self._musicnn: MusicnnViewStream | StudentViewStream | None = None
        if spec.musicnn is not None:
            student = spec.musicnn.encoder == "student"
            self._musicnn = StudentViewStream(spec, dtype) if student else MusicnnViewStream(spec, dtype)
        self.frames_emitted = 0

    def reset(self) -> None:
        """Forget all audio: the next sample pushed is sample 0 of a new stream."""
        self._mel.reset()
        self._cochleagram.reset()
        if self._musicnn is not None:
            self._musicnn.reset()
        self.frames_emitted = 0

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state: every view's state (keys prefixed ``mel.``, ``cochleagram.``,
        ``musicnn.``)."""
        state = {f"mel.{k}": v for k, v in self._mel.get_state().items()}
        state.update({f"cochleagram.{k}": v for k, v in self._cochleagram.get_state().items()})
        if self._musicnn is not None:
            state.update({f"musicnn.{k}": v for k, v in self._musicnn.get_state().items()})
        state["frames_emitted"] = np.array(self.frames_emitted, dtype=np.int64)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._mel.set_state(_with_prefix_removed(state, "mel."))
        self._cochleagram.set_state(_with_prefix_removed(state, "cochleagram."))
        if self._musicnn is not None:
            self._musicnn.set_state(_with_prefix_removed(state, "musicnn."))
        self.frames_emitted = int(state["frames_emitted"])

    def push(self, samples: np.ndarray) -> FrameViews:
        """Consume ``samples`` (shape ``(n,)``) and return the newly completed frames of every view.

        Returns:
            :class:`FrameViews` with the same ``k`` for every view (0 for an empty block or until the first
            window is complete).

        Raises:
            AudioError: not 1-D, not floating point, or NaN/inf samples (the state is left unchanged).
        """
        block = check_mono_block(samples, self.dtype)
        mel = self._mel.push(block)
        cochleagram = self._cochleagram.push(block)
        if self._musicnn is None:
            musicnn = np.zeros((mel.shape[0], 0), dtype=self.dtype)
        elif isinstance(self._musicnn, StudentViewStream):
            musicnn = self._musicnn.push(mel)
        else:
            musicnn = self._musicnn.push(block)
        self.frames_emitted += mel.shape[0]
        return FrameViews(mel, cochleagram, musicnn)


def _with_prefix_removed(state: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def frontend_offline(audio: np.ndarray, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> FrameViews:
    """Every view of a whole mono signal (:class:`FrameViews` of ``T = spec.n_frames(len(audio))`` frames).

    Raises:
        BundleError: ``spec.source`` is not ``"audio"``.
        AudioError: as :meth:`FrontEnd.push`.
    """
    return FrontEnd(spec, dtype).push(audio)
