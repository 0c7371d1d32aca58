"""Export of the streaming step to TorchScript, for hosts that load TorchScript modules (libtorch in C++,
or Python without this package), and for a faster live step (the traced graph skips Python's per-operation
overhead).

The exported module is a frozen trace (weights are constants) with two methods:

* ``forward(mel_frames (B, p, n_mels), coch_frames (B, p, n_channels), state: Dict[str, Tensor])
  -> (va, logits, embedding, view_va: Dict[str, Tensor], view_logits: Dict[str, Tensor], new_state)``,
  the outputs of one token (``N == 1``) as in :meth:`DamerModel.step`; a model that reads the musicnn view
  takes a fourth input, ``musicnn_frames (B, p, size)`` (see :func:`step_inputs`);
* ``initial_state(frames_like (B, ...))`` -> a fresh state for ``B`` streams on the device and dtype of
  ``frames_like``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from damer_core.atomic import atomic_path

if TYPE_CHECKING:
    from damer_core.model.damer import DamerModel

StepResult = tuple[
    torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]
]


class StepModule(nn.Module):
    """:meth:`DamerModel.step` with tensor-only inputs and outputs, as tracing needs."""

    def __init__(self, model: DamerModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        mel_frames: torch.Tensor,
        coch_frames: torch.Tensor,
        state: dict[str, torch.Tensor],
        musicnn_frames: torch.Tensor | None = None,
    ) -> StepResult:
        out, new_state = self.model.step(mel_frames, coch_frames, state, musicnn_frames)
        return out.va, out.logits, out.embedding, out.view_va, out.view_logits, new_state

    def initial_state(self, frames_like: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.init_state(frames_like.shape[0], frames_like.device, frames_like.dtype)


def step_inputs(
    model: DamerModel,
    mel: torch.Tensor | None,
    coch: torch.Tensor | None,
    musicnn: torch.Tensor | None,
    state: dict[str, torch.Tensor],
) -> tuple:
    """The positional inputs of the traced step for ``model``: ``(mel, coch, state)``, plus ``musicnn`` when
    the model reads that view. A view the model does not read may be ``None`` (an empty tensor stands in)."""
    like = next(x for x in (mel, coch, musicnn) if x is not None)
    empty = like.new_zeros(like.shape[0], like.shape[1], 0)
    inputs = (empty if mel is None else mel, empty if coch is None else coch, state)
    return (*inputs, musicnn) if "musicnn" in model.views else inputs


def trace_step(model: DamerModel, batch: int = 1) -> torch.jit.ScriptModule:
    """Trace the streaming step of ``model`` on its current device and dtype (see the module docstring).

    The result is frozen: it holds a copy of the current weights as constants (which also makes it faster),
    so trace again after changing or moving the model.
    """
    reference = model.head.linear.weight
    device, dtype = reference.device, reference.dtype
    per_token = model.frames_per_token
    mel, coch, musicnn = (
        torch.zeros(batch, per_token, model.n_bins[view], device=device, dtype=dtype)
        for view in ("mel", "cochleagram", "musicnn")
    )
    state = model.init_state(batch, device, dtype)
    inputs = step_inputs(model, mel, coch, musicnn, state)
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated in favour of torch.export, but it is still the format that C++ hosts load
        # without a compiler, and its interpreter runs the step several times faster than eager Python.
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace_module(
            StepModule(model).eval(), {"forward": inputs, "initial_state": (mel,)}, strict=False
        )
        return torch.jit.freeze(traced, preserved_attrs=["initial_state"])


def export_step(model: DamerModel, path: str | Path, batch: int = 1) -> Path:
    """Write the traced streaming step of ``model`` (see :func:`trace_step`) to ``path`` as a TorchScript
    file, atomically. Load it with ``torch.jit.load`` (C++: ``torch::jit::load``). Returns the path."""
    path = Path(path)
    traced = trace_step(model, batch)
    with atomic_path(path) as temporary:
        traced.save(str(temporary))
    return path
