"""A small causal network that reproduces musicnn's embedding from the front-end's own log-Mel frames.

Architecture (per frame of the shared frame grid, 86.13 frames/s by default):

* input: the 128-bin log-Mel frame, standardised per bin by fixed statistics (buffers set from the
  training audio), then a linear map to ``channels``;
* ``len(dilations)`` residual blocks ``x += GELU(conv(x))``: each ``conv`` a causal convolution over time
  of ``kernel`` taps spaced ``dilation`` frames (1, 2, 4, ... 64 by default: with 3 taps the stack reaches
  255 frames, 2.96 s, back: musicnn's 3 s patch); the blocks' outputs are scaled by ``1/sqrt(2)`` so the
  residual stream keeps its scale;
* output: a linear map to musicnn's 200-value penultimate embedding (in musicnn's own units; the
  training standardises it for the loss only).

Nothing reads the future: the output at frame ``t`` depends on frames ``t - 254 .. t``. Streaming keeps,
per block, the last ``(kernel - 1) * dilation`` inputs of its convolution (zeros before the stream's
first frame, as the offline pass pads) and applies the convolution to the new frames as one matrix product
over its taps; :meth:`MusicnnStudent.step` over frames one by one equals :meth:`MusicnnStudent.forward`
over the whole sequence.

Cost: ``channels * (n_mels + len(dilations) * kernel * channels + size)`` multiply-adds per frame —
with the defaults 386 k, i.e. 66.5 MFLOP per second of audio (86.13 frames/s), about a fifteenth of musicnn's view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn


@dataclass(frozen=True)
class StudentConfig:
    """Shape of :class:`MusicnnStudent` (recorded with its weights).

    Attributes:
        n_mels: log-Mel bins per input frame.
        channels: width of the residual stream.
        kernel: taps of each causal convolution.
        dilations: spacing of the taps, one block per entry.
        size: values per output frame (musicnn's penultimate embedding: 200).
    """

    n_mels: int = 128
    channels: int = 128
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    size: int = 200

    @property
    def reach(self) -> int:
        """Frames of the past (the current one included) that an output depends on."""
        return 1 + sum((self.kernel - 1) * d for d in self.dilations)

    def macs_per_frame(self) -> int:
        """Multiply-adds per frame (the linear maps and convolutions)."""
        c = self.channels
        return c * self.n_mels + len(self.dilations) * self.kernel * c * c + c * self.size


class MusicnnStudent(nn.Module):
    """See the module docstring. Input ``(B, T, n_mels)`` log-Mel frames; output ``(B, T, size)``.

    Buffers: ``mel_mean``, ``mel_std`` ``(n_mels,)`` (input standardisation).
    """

    mel_mean: torch.Tensor
    mel_std: torch.Tensor

    def __init__(self, config: StudentConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mel_mean", torch.zeros(config.n_mels))
        self.register_buffer("mel_std", torch.ones(config.n_mels))
        self.inp = nn.Linear(config.n_mels, config.channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.channels, config.channels, config.kernel, dilation=d) for d in config.dilations
        )
        self.out = nn.Linear(config.channels, config.size)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Fix the per-bin standardisation of the input (statistics of the training audio)."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)

    def _conv_layers(self) -> list[nn.Conv1d]:
        """``convs`` as what they are (``nn.ModuleList`` iterates as plain modules)."""
        return [cast(nn.Conv1d, conv) for conv in self.convs]

    def _history(self, index: int) -> int:
        return (self.config.kernel - 1) * self.config.dilations[index]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Offline: ``(B, T, n_mels)`` -> ``(B, T, size)``."""
        x = self.inp((mel - self.mel_mean) / self.mel_std).transpose(1, 2)
        for index, conv in enumerate(self.convs):
            padded = nn.functional.pad(x, (self._history(index), 0))
            x = x + nn.functional.gelu(conv(padded), approximate="tanh") * _RESIDUAL_SCALE
        return self.out(x.transpose(1, 2))

    def tap_weights(self) -> list[torch.Tensor]:
        """Each convolution's weights as one matrix ``(channels, kernel * channels)`` over its taps laid side
        by side, oldest first: :meth:`step` applies a convolution to a few new frames as one matrix product
        (several times cheaper than a convolution call on so few frames). Compute once per set of weights."""
        return [
            conv.weight.detach().permute(0, 2, 1).reshape(conv.out_channels, -1).contiguous()
            for conv in self._conv_layers()
        ]

    def init_state(
        self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> list[torch.Tensor]:
        """Zeroed convolution inputs of the past, time-major: per block ``(B, (kernel - 1) * dilation, channels)``."""
        reference = self.out.weight
        return [
            torch.zeros(
                batch,
                self._history(index),
                self.config.channels,
                device=device or reference.device,
                dtype=dtype or reference.dtype,
            )
            for index in range(len(self.convs))
        ]

    def step(
        self, mel: torch.Tensor, state: list[torch.Tensor], taps: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Streaming: ``(B, k, n_mels)`` new frames (any ``k >= 1``), the state and :meth:`tap_weights` ->
        ``(B, k, size)`` and the new state. Equals :meth:`forward` over the whole stream for the same frames
        (up to float rounding: a matrix product in place of the convolution)."""
        x = self.inp((mel - self.mel_mean) / self.mel_std)
        k = x.shape[1]
        new_state = []
        for index, conv in enumerate(self._conv_layers()):
            extended = torch.cat((state[index], x), dim=1)
            new_state.append(extended[:, extended.shape[1] - self._history(index) :])
            spacing = self.config.dilations[index]
            stacked = torch.cat([extended[:, j * spacing : j * spacing + k] for j in range(self.config.kernel)], dim=-1)
            mixed = nn.functional.linear(stacked, taps[index], conv.bias)
            x = x + nn.functional.gelu(mixed, approximate="tanh") * _RESIDUAL_SCALE
        return self.out(x), new_state


_RESIDUAL_SCALE = 1.0 / math.sqrt(2.0)
