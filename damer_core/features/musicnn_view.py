"""The pretrained musicnn view on the shared frame grid: one musicnn embedding per front-end frame.

Pipeline: the stream's audio -> musicnn's own log-Mel (:class:`~damer_core.features.musicnn_mel.MusicnnMelStream`:
16 kHz, 62.5 frames/s) -> MSD_musicnn run incrementally, one column per musicnn frame
(:class:`~damer_core.musicnn_stream.CausalMusicnn`) -> the back-end over the last ``pool_frames`` columns ->
the embedding (penultimate layer or taggram) of each musicnn frame.

Alignment: front-end frame ``t`` is emitted when input sample ``t * hop + win_length - 1`` arrives; its
musicnn value is the embedding after the last musicnn frame complete at that moment (all musicnn frames
whose 16 kHz samples the resampler has produced from the first ``t * hop + win_length`` input samples).
Before the first musicnn frame (the first 32 ms plus the resampler's delay) it is the embedding of empty
(zero) pooled features. The musicnn frame rate (62.5/s) is below the front-end's (86.1/s at 22050 Hz / hop
256), so consecutive frames often repeat a value. Streamed equals offline for any block sizes.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from damer_core.errors import BundleError
from damer_core.features.musicnn_mel import MusicnnMelStream
from damer_core.features.signal import check_mono_block
from damer_core.musicnn import FEATURE_CHANNELS, default_weights_path, load_musicnn
from damer_core.musicnn_stream import CausalMusicnn
from damer_core.spec import FeatureSpec, MusicnnViewSpec


def load_view_network(view: MusicnnViewSpec) -> CausalMusicnn:
    """The shipped musicnn weights as the incremental network ``view`` describes.

    Raises:
        BundleError: the shipped weights are not the ones ``view.weights_sha256`` names (the model was
            trained on another musicnn), or cannot be read.
    """
    path = default_weights_path()
    try:
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise BundleError(f"cannot read musicnn weights {path} ({exc.strerror or exc})") from None
    if checksum != view.weights_sha256:
        raise BundleError(
            f"musicnn weights {path} have SHA-256 {checksum[:12]}..., "
            f"the feature spec needs {view.weights_sha256[:12]}...: the model was trained with other musicnn weights"
        )
    return CausalMusicnn(load_musicnn(path), view.variant, view.pool_frames, view.embedding)


class MusicnnViewStream:
    """Incremental musicnn view: push blocks of mono audio at ``spec.sample_rate``, get one row per newly
    completed front-end frame.

    Args:
        spec: a feature spec with a ``musicnn`` section.
        dtype: output dtype (the network computes in float32).

    State (``get_state``/``set_state``, numpy arrays): the log-Mel stream's, the network's caches, the input
    samples and front-end frames counted so far, and the embedding of the newest musicnn frame.

    Raises:
        BundleError: ``spec`` has no musicnn view, or the shipped weights are not the spec's.
    """

    def __init__(self, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> None:
        if spec.musicnn is None:
            raise BundleError("the feature spec has no musicnn view")
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self._mel = MusicnnMelStream(spec.sample_rate, np.float32)
        self._network = load_view_network(spec.musicnn)
        zeros = torch.zeros(1, FEATURE_CHANNELS)
        self._empty = self._network.embed(zeros, zeros)[0].numpy()
        self.reset()

    @property
    def size(self) -> int:
        """Values per frame."""
        return self._network.embedding_size

    def reset(self) -> None:
        """Forget all audio: the next sample pushed is sample 0 of a new stream."""
        self._mel.reset()
        self._state = self._network.init_state()
        self._samples = 0
        self._frames = 0
        self._columns = 0
        self._last = self._empty.copy()

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state."""
        state = {f"mel.{k}": v for k, v in self._mel.get_state().items()}
        state.update({f"network.{k}": v.numpy().copy() for k, v in self._state.items()})
        state["samples"] = np.array(self._samples, dtype=np.int64)
        state["frames"] = np.array(self._frames, dtype=np.int64)
        state["columns"] = np.array(self._columns, dtype=np.int64)
        state["last"] = self._last.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._mel.set_state({k[len("mel.") :]: v for k, v in state.items() if k.startswith("mel.")})
        self._state = {
            k[len("network.") :]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith("network.")
        }
        self._samples, self._frames = int(state["samples"]), int(state["frames"])
        self._columns = int(state["columns"])
        self._last = np.array(state["last"], dtype=np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Consume a checked mono block (``(n,)``, see :func:`~damer_core.features.signal.check_mono_block`);
        return ``(k, size)`` rows for the ``k`` front-end frames it completes."""
        mel = self._mel.push(block)
        if mel.shape[0] > 0:
            max_pool, mean_pool, self._state = self._network(torch.from_numpy(mel), self._state)
            new = self._network.embed(max_pool, mean_pool).numpy()
        else:
            new = np.zeros((0, self.size), dtype=np.float32)
        self._samples += block.shape[0]
        frames = np.arange(self._frames, self.spec.n_frames(self._samples))
        available = [self._mel.frames_available(int(t) * self.spec.hop + self.spec.win_length) for t in frames]
        # Row 0 of the table is the newest musicnn frame before this block (the empty embedding before any).
        table = np.concatenate([self._last[None], new])
        rows = table[np.asarray(available, dtype=np.int64) - self._columns]
        self._columns += new.shape[0]
        self._frames += frames.size
        self._last = table[-1].copy()
        return rows.astype(self.dtype, copy=False)


def musicnn_view_offline(audio: np.ndarray, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """The musicnn view of a whole mono signal at ``spec.sample_rate``: ``(spec.n_frames(len(audio)), size)``.

    Raises:
        AudioError: not 1-D, not floating point, or non-finite samples.
        BundleError: as :class:`MusicnnViewStream`.
    """
    return MusicnnViewStream(spec, dtype).push(check_mono_block(audio, np.dtype(dtype)))
