"""Choice of compute device and precision for a model."""

from __future__ import annotations

import torch

from damer_core.errors import DeviceError
from damer_core.model.damer import DamerModel


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"`` -> a device.

    Raises:
        DeviceError: CUDA was asked for and is not available, or the name is not a device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available here (use 'cpu' or 'auto')")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    raise DeviceError(f"unknown compute device {name!r} (use 'auto', 'cpu' or 'cuda')")


def place_model(model: DamerModel, device: str = "auto", half: bool = False) -> DamerModel:
    """Move ``model`` to ``device`` (see :func:`resolve_device`), in float16 when ``half`` and the device is
    CUDA, float32 otherwise. Returns the same model."""
    target = resolve_device(device)
    dtype = torch.float16 if half and target.type == "cuda" else torch.float32
    return model.to(device=target, dtype=dtype)
