"""PyTorch port of the MSD_musicnn music tagger (Pons & Serra, musicnn, 2019), for inference.

The network reads log-Mel patches of musicnn's own front-end (16 kHz, 96 Slaney bands, 62.5 frames/s; see
:mod:`damer_core.features.musicnn_mel`) and predicts the 50 Million Song Dataset tags of :data:`MSD_TAGS`.

Architecture (frames ``T``, 187 for the 3 s patches it was trained on, but any ``T >= 1`` is accepted):

* input: one batch-norm over all Mel values (a single channel);
* front-end, five parallel branches each ending in ReLU, batch-norm and a max over frequency:
  two *timbral* convolutions spanning 7 frames × 38 and 7 × 67 bands (204 filters each, zero-padded by
  3 frames in time, unpadded in frequency) and three *temporal* convolutions spanning 128, 64 and 32
  frames × 1 band (51 filters each, "same" padding with the extra zero after the end for even lengths);
  concatenated to 561 channels;
* mid-end: three 1-D convolutions over time (7 frames, 64 filters, ReLU then batch-norm), the second and
  third with a residual connection; the front-end and the three mid-end outputs are concatenated to
  753 channels per frame;
* back-end: max and mean over time, interleaved per channel (1506 values), batch-norm, dense 200 + ReLU,
  batch-norm (the *penultimate* embedding), dense 50 (logits), sigmoid (the taggram).

Every batch-norm uses the moving statistics of training with epsilon ``1e-3``. The weights ship inside
the package (``damer_core/models/musicnn_msd.safetensors``, ISC licence, see the README beside it).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from damer_core.errors import AudioError, BundleError
from damer_core.features.musicnn_mel import MUSICNN_N_MELS as N_MELS

PATCH_FRAMES = 187  # 3 s at 62.5 frames/s, the length it was trained on
N_TAGS = 50
EMBEDDING_DIM = 200
FRONTEND_CHANNELS = 561
FEATURE_CHANNELS = 753
MIDEND_KERNEL = 7

MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip

_BN_EPS = 1e-3  # TensorFlow's batch-norm default, used by the original


def default_weights_path() -> Path:
    """Path of the MSD_musicnn weights shipped in the package."""
    return Path(str(resources.files("damer_core") / "models" / "musicnn_msd.safetensors"))


class MusicnnOutput(NamedTuple):
    """Outputs of :class:`Musicnn` for a batch of ``B`` patches of ``T`` frames.

    Attributes:
        taggram: ``(B, 50)`` tag probabilities in [0, 1], ordered as :data:`MSD_TAGS`.
        logits: ``(B, 50)`` pre-sigmoid tag scores.
        penultimate: ``(B, 200)`` embedding of the back-end (after its ReLU and batch-norm).
        max_pool: ``(B, 753)`` maximum over time of the mid-end features.
        mean_pool: ``(B, 753)`` mean over time of the mid-end features.
        features: ``(B, T, 753)`` per-frame features: 561 front-end channels (timbral 38 and 67 bands,
            temporal 128, 64 and 32 frames) followed by the three 64-channel mid-end layers.
    """

    taggram: torch.Tensor
    logits: torch.Tensor
    penultimate: torch.Tensor
    max_pool: torch.Tensor
    mean_pool: torch.Tensor
    features: torch.Tensor


class _FrequencyPooledConv(nn.Module):
    """Conv2d over (time, frequency) + ReLU + batch-norm + max over the remaining frequency positions.

    Input ``(B, 1, T, n_mels)``, output ``(B, filters, T)``. ``time_padding`` is the (before, after) number
    of zero frames added in time; frequency is never padded.
    """

    def __init__(self, filters: int, kernel: tuple[int, int], time_padding: tuple[int, int]) -> None:
        super().__init__()
        self.time_padding = time_padding
        self.conv = nn.Conv2d(1, filters, kernel_size=kernel)
        self.norm = nn.BatchNorm2d(filters, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unpadded(nn.functional.pad(x, (0, 0, *self.time_padding)))

    def unpadded(self, x: torch.Tensor) -> torch.Tensor:
        """The branch without its time padding: ``(B, 1, T, n_mels) -> (B, filters, T - kernel_frames + 1)``."""
        return self.norm(torch.relu(self.conv(x))).amax(dim=-1)


class _TimeConv(nn.Module):
    """Conv1d over time (7 frames, 3 zero frames each side) + ReLU + batch-norm: ``(B, C, T) -> (B, F, T)``."""

    def __init__(self, in_channels: int, filters: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, filters, kernel_size=MIDEND_KERNEL)
        self.norm = nn.BatchNorm1d(filters, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unpadded(nn.functional.pad(x, _same_padding(MIDEND_KERNEL)))

    def unpadded(self, x: torch.Tensor) -> torch.Tensor:
        """The layer without its time padding: ``(B, C, T) -> (B, F, T - 6)``."""
        return self.norm(torch.relu(self.conv(x)))


def _moving_batch_norm(x: torch.Tensor, norm: nn.BatchNorm1d) -> torch.Tensor:
    """Batch-norm with the moving statistics over the last axis of ``x`` (any leading shape)."""
    mean, var = norm.running_mean, norm.running_var
    assert mean is not None and var is not None, "musicnn's batch-norms track running statistics"
    scale = norm.weight / torch.sqrt(var + norm.eps)
    return (x - mean) * scale + norm.bias


def _same_padding(kernel: int) -> tuple[int, int]:
    """TensorFlow's "same" padding for stride 1: the odd zero, if any, goes after the end."""
    return (kernel - 1) // 2, kernel // 2


class Musicnn(nn.Module):
    """MSD_musicnn in eval form: ``forward(mel (B, T, 96)) -> MusicnnOutput``.

    Build it with :func:`load_musicnn`; a bare instance has untrained weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1, eps=_BN_EPS)
        self.timbral = nn.ModuleList(
            _FrequencyPooledConv(204, (7, bands), time_padding=(3, 3))
            for bands in (int(0.4 * N_MELS), int(0.7 * N_MELS))
        )
        self.temporal = nn.ModuleList(
            _FrequencyPooledConv(51, (frames, 1), time_padding=_same_padding(frames)) for frames in (128, 64, 32)
        )
        self.midend = nn.ModuleList(_TimeConv(c, 64) for c in (FRONTEND_CHANNELS, 64, 64))
        self.pool_norm = nn.BatchNorm1d(2 * FEATURE_CHANNELS, eps=_BN_EPS)
        self.dense = nn.Linear(2 * FEATURE_CHANNELS, EMBEDDING_DIM)
        self.dense_norm = nn.BatchNorm1d(EMBEDDING_DIM, eps=_BN_EPS)
        self.classifier = nn.Linear(EMBEDDING_DIM, N_TAGS)
        self.eval()

    def forward(self, mel: torch.Tensor) -> MusicnnOutput:
        """Tag a batch of log-Mel patches.

        Args:
            mel: ``(B, T, 96)`` musicnn log-Mel frames (``log10(10000 * power + 1)``), ``T >= 1``.
        """
        if mel.ndim != 3 or mel.shape[-1] != N_MELS or mel.shape[1] == 0:
            raise AudioError(f"musicnn expects log-Mel of shape (batch, frames >= 1, {N_MELS}), got {tuple(mel.shape)}")
        x = self.input_norm(mel.unsqueeze(1))
        frontend = torch.cat([branch(x) for branch in (*self.timbral, *self.temporal)], dim=1)
        layers = [frontend]
        for index, layer in enumerate(self.midend):
            out = layer(layers[-1])
            layers.append(out if index == 0 else out + layers[-1])
        features = torch.cat(layers, dim=1)
        max_pool = features.amax(dim=-1)
        mean_pool = features.mean(dim=-1)
        penultimate, logits = self.back_end(max_pool, mean_pool)
        return MusicnnOutput(
            taggram=torch.sigmoid(logits),
            logits=logits,
            penultimate=penultimate,
            max_pool=max_pool,
            mean_pool=mean_pool,
            features=features.transpose(1, 2),
        )

    def back_end(self, max_pool: torch.Tensor, mean_pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense layers on the time-pooled features: ``max_pool``, ``mean_pool`` ``(..., 753)`` ->
        ``(penultimate (..., 200), logits (..., 50))``."""
        pooled = torch.stack([max_pool, mean_pool], dim=-1).flatten(-2)
        penultimate = _moving_batch_norm(
            torch.relu(self.dense(_moving_batch_norm(pooled, self.pool_norm))), self.dense_norm
        )
        return penultimate, self.classifier(penultimate)


def load_musicnn(path: str | Path | None = None) -> Musicnn:
    """Load MSD_musicnn weights (safetensors, any float dtype) into a float32 :class:`Musicnn` in eval mode.

    Args:
        path: a safetensors file written by ``train/convert_musicnn.py``; ``None`` loads the shipped one.

    Raises:
        BundleError: the file is missing, unreadable, or its tensors do not match the architecture.
    """
    path = default_weights_path() if path is None else Path(path)
    try:
        tensors = load_file(path)
    except (OSError, SafetensorError) as error:
        raise BundleError(f"cannot read musicnn weights {path}: {error}") from None
    model = Musicnn()
    # Batch-norm step counters only matter for training; the file holds parameters and running statistics.
    expected = {name: value for name, value in model.state_dict().items() if not name.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"musicnn weights {path} do not match the architecture: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise BundleError(
                f"musicnn weights {path}: {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)}"
            )
        if not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise BundleError(f"musicnn weights {path}: {name} is not finite floating point ({tensor.dtype})")
    model.load_state_dict({name: tensor.to(torch.float32) for name, tensor in tensors.items()}, strict=False)
    return model.eval()
