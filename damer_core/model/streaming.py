"""StreamingDamer: feed any number of new feature frames, get the outputs of the tokens they complete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from damer_core.errors import AudioError
from damer_core.model.export import step_inputs, trace_step
from damer_core.model.output import DamerOutput, concat_outputs, empty_output

if TYPE_CHECKING:
    from damer_core.model.damer import DamerModel

_PENDING_KEYS = {"mel": "stream.pending_mel", "cochleagram": "stream.pending_coch", "musicnn": "stream.pending_musicnn"}


class StreamingDamer:
    """Holds the streaming state of a :class:`DamerModel` for ``batch`` parallel streams.

    ``push(mel, coch, musicnn)`` takes the frames completed since the last call (``(k, n_mels)``,
    ``(k, n_channels)`` and, for a model that reads the musicnn view, ``(k, size)``, for one stream, or
    ``(B, k, ...)``; numpy arrays or tensors, any ``k >= 0``; a view the model does not read is ignored),
    keeps frames that do not yet fill a token, and returns a :class:`DamerOutput` for the tokens completed
    (``N`` may be 0). Outputs are the offline forward pass's outputs for the same tokens. Runs under
    ``torch.inference_mode``. ``push(*front_end.push(block))`` passes every view of
    :class:`~damer_core.features.frontend.FrontEnd`.

    ``tokens`` counts the tokens output since the start (token ``n`` ends at
    ``model.token_end_seconds(n)``). ``reset()`` starts a new stream; ``get_state()``/``set_state()`` snapshot
    and restore everything, including frames waiting for their token. Usable as a context manager (the
    state is reset on exit).

    With ``traced=True`` the step runs as a TorchScript trace of :meth:`DamerModel.step` (built once here,
    about a second), which removes most of Python's per-operation overhead: use it for live streams. The
    trace is bound to the model's device, dtype and weights at construction. ``trace`` passes a trace that
    :func:`~damer_core.model.export.trace_step` built earlier for this model and ``batch`` (and implies
    ``traced``), so that many streams of an unchanging model trace once.
    """

    def __init__(
        self, model: DamerModel, batch: int = 1, traced: bool = False, trace: torch.jit.ScriptModule | None = None
    ) -> None:
        self.model = model
        self.batch = batch
        reference = model.head.linear.weight
        self.device, self.dtype = reference.device, reference.dtype
        self._traced = trace if trace is not None else trace_step(model, batch) if traced else None
        self.reset()

    def __enter__(self) -> StreamingDamer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: empty caches, no pending frames, token count 0."""
        with torch.inference_mode():
            self._state = self.model.init_state(self.batch, self.device, self.dtype)
        self._pending = {
            view: torch.zeros(self.batch, 0, self.model.n_bins[view], device=self.device, dtype=self.dtype)
            for view in self.model.views
        }
        self.tokens = 0

    def push(
        self,
        mel: np.ndarray | torch.Tensor,
        coch: np.ndarray | torch.Tensor,
        musicnn: np.ndarray | torch.Tensor | None = None,
    ) -> DamerOutput:
        """Add new frames of the views (same count ``k``); returns the outputs of the tokens completed.

        Raises:
            AudioError: wrong shapes, different frame counts, non-finite values, or no musicnn frames for a
                model that reads them.
        """
        given = {"mel": mel, "cochleagram": coch, "musicnn": musicnn}
        frames = {view: self._as_frames(view, given[view]) for view in self.model.views}
        counts = [str(x.shape[1]) for x in frames.values()]
        if len(set(counts)) > 1:
            raise AudioError(f"{', '.join(frames)} frame counts differ: {' != '.join(counts)}")
        for view, x in frames.items():
            if self._pending[view].shape[1] > 0:
                frames[view] = torch.cat((self._pending[view], x), dim=1)
        per_token = self.model.frames_per_token
        n_tokens = frames[self.model.views[0]].shape[1] // per_token
        outputs = []
        with torch.inference_mode():
            for n in range(n_tokens):
                window = slice(n * per_token, (n + 1) * per_token)
                output, self._state = self._step({view: x[:, window] for view, x in frames.items()})
                outputs.append(output)
        self._pending = {view: x[:, n_tokens * per_token :] for view, x in frames.items()}
        self.tokens += n_tokens
        if not outputs:
            return empty_output(self.batch, self.model.config.embed_dim, self.model.views, self.device, self.dtype)
        return concat_outputs(outputs)

    def _step(self, frames: dict[str, torch.Tensor]) -> tuple[DamerOutput, dict[str, torch.Tensor]]:
        mel, coch, musicnn = (frames.get(view) for view in ("mel", "cochleagram", "musicnn"))
        if self._traced is None:
            return self.model.step(mel, coch, self._state, musicnn)
        inputs = step_inputs(self.model, mel, coch, musicnn, self._state)
        va, logits, embedding, view_va, view_logits, state = self._traced(*inputs)
        return DamerOutput(va, logits, embedding, view_va, view_logits), state

    def _as_frames(self, view: str, x: np.ndarray | torch.Tensor | None) -> torch.Tensor:
        n_bins = self.model.n_bins[view]
        if x is None:
            raise AudioError(f"{view} frames: this model reads the {view} view, but none were given")
        tensor = torch.from_numpy(np.asarray(x)) if isinstance(x, np.ndarray) else x
        if not isinstance(tensor, torch.Tensor):
            raise AudioError(f"{view} frames: expected a numpy array or tensor, got {type(x).__name__}")
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        if tensor.ndim != 3 or tensor.shape[0] != self.batch or tensor.shape[2] != n_bins:
            raise AudioError(
                f"{view} frames: expected shape (frames, {n_bins}) or ({self.batch}, frames, {n_bins}), "
                f"got {tuple(tensor.shape)}"
            )
        if not tensor.is_floating_point():
            raise AudioError(f"{view} frames: expected floating point values, got {tensor.dtype}")
        if not bool(torch.isfinite(tensor).all()):
            raise AudioError(f"{view} frames: contain non-finite values")
        return tensor.to(device=self.device, dtype=self.dtype)

    def get_state(self) -> dict[str, torch.Tensor]:
        """Snapshot (copies) of the model state, the pending frames and the token count."""
        snapshot = {key: value.clone() for key, value in self._state.items()}
        for view, pending in self._pending.items():
            snapshot[_PENDING_KEYS[view]] = pending.clone()
        snapshot["stream.tokens"] = torch.tensor(self.tokens)
        return snapshot

    def set_state(self, snapshot: dict[str, torch.Tensor]) -> None:
        """Restore a snapshot taken with :meth:`get_state` from a stream of the same model and batch.

        Raises:
            ValueError: keys or shapes do not match this model's state.
        """
        expected = self.model.init_state(self.batch, self.device, self.dtype)
        pending_keys = {view: _PENDING_KEYS[view] for view in self.model.views}
        wanted = set(expected) | set(pending_keys.values()) | {"stream.tokens"}
        if set(snapshot) != wanted:
            raise ValueError(f"stream state: keys differ from this model's ({sorted(set(snapshot) ^ wanted)[:3]} ...)")
        for key, value in expected.items():
            if snapshot[key].shape != value.shape:
                raise ValueError(
                    f"stream state: '{key}' has shape {tuple(snapshot[key].shape)}, expected {tuple(value.shape)}"
                )
        self._state = {key: snapshot[key].to(device=self.device, dtype=self.dtype).clone() for key in expected}
        self._pending = {
            view: snapshot[key].to(device=self.device, dtype=self.dtype).clone() for view, key in pending_keys.items()
        }
        self.tokens = int(snapshot["stream.tokens"])
