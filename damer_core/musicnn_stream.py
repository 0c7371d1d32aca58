"""MSD_musicnn run incrementally: one new column of its convolutions per new log-Mel frame, then the
back-end over the columns of the last few seconds.

musicnn is convolutional in time up to its back-end, which pools (max and mean) over the frames of a patch.
A stream therefore never needs to re-run a whole 3 s patch: each new musicnn frame adds one column to each
convolution (a cache of the last inputs stands in for the patch, cached-conv style), and the back-end pools
the last ``pool_frames`` columns. The original pads every convolution with zeros on both sides ("same"
padding), which looks into the future; two causal forms are offered:

* ``"causal"``: every convolution reads only the frames up to now (its zero padding all moved to the
  past). Nothing is delayed, but each branch sees the music shifted by its own look-ahead (timbral 3 frames,
  temporal 64, 32 and 16, each mid-end layer 3) compared with training.
* ``"aligned"``: every column is exactly the original's column for the same frame (as if the whole stream
  were one patch), computed as soon as its look-ahead has arrived: the branches are delayed to the largest
  look-ahead (64 frames) and the mid-end adds 3 frames per layer, so the newest column is :attr:`lag`
  = 73 frames (1.17 s) old. Before the first column exists the pooled features are zero.

Both forms start from zero padding before the first frame, like the original at a patch's start. Within
the stream no patch boundary exists: the convolutions read the real frames on either side, where the
original would pad each 3 s patch with zeros.

Shapes: one stream (no batch axis); frames ``(k, 96)`` at 62.5 frames/s, outputs ``(k, ...)``, one per
frame pushed. State: an explicit dict of tensors (:meth:`CausalMusicnn.init_state`); offline over a whole
signal is the same call with a fresh state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, cast

import torch
from torch import nn

from damer_core.musicnn import FEATURE_CHANNELS, FRONTEND_CHANNELS, MIDEND_KERNEL, N_MELS, Musicnn

if TYPE_CHECKING:
    from damer_core.musicnn import _FrequencyPooledConv, _TimeConv

MusicnnVariant = Literal["causal", "aligned"]
MusicnnEmbedding = Literal["penultimate", "taggram"]
EMBEDDING_SIZES: dict[str, int] = {"penultimate": 200, "taggram": 50}
VARIANTS: tuple[str, ...] = ("causal", "aligned")
_CHUNK = 256  # frames per internal step of a long push, to bound memory

State = dict[str, torch.Tensor]


def _lookahead(kernel: int) -> int:
    """Frames after the current one that a "same"-padded convolution reads (the extra zero goes after)."""
    return kernel // 2


class _ConvColumns(nn.Module):
    """One musicnn convolution (+ ReLU, batch-norm and, for the front-end, max over frequency) as a matrix
    product over the last ``kernel`` inputs of each new column: what the original computes, without padding.

    Buffers: ``weight`` ``(kernel * width, filters)``, ``bias``, ``scale``, ``shift`` ``(filters,)`` (the
    moving batch-norm folded into a scale and a shift).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, norm: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        super().__init__()
        assert conv.bias is not None, "musicnn's convolutions have a bias"
        weight = conv.weight.detach()
        self.kernel = conv.kernel_size[0]
        self.frequency_kernel = conv.kernel_size[1] if weight.ndim == 4 else None
        filters = weight.shape[0]
        if weight.ndim == 4:  # (filters, 1, kernel, bands) over (time, frequency): rows (dt, df)
            matrix = weight[:, 0].reshape(filters, -1)
        else:  # (filters, channels, kernel) over time: rows (channel, dt)
            matrix = weight.reshape(filters, -1)
        self.register_buffer("weight", matrix.t().contiguous(), persistent=False)
        self.register_buffer("bias", conv.bias.detach().clone(), persistent=False)
        scale, shift = _folded_norm(norm)
        self.register_buffer("scale", scale, persistent=False)
        self.register_buffer("shift", shift, persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs (kernel - 1 + k, width)`` (time first) -> ``(k, filters)``."""
        windows = inputs.unfold(0, self.kernel, 1)  # (k, width, kernel)
        if self.frequency_kernel is None:
            out = windows.reshape(windows.shape[0], -1) @ self.weight
            return torch.relu(out + self.bias) * self.scale + self.shift
        patches = windows.unfold(1, self.frequency_kernel, 1)  # (k, positions, kernel, bands)
        k, positions = patches.shape[:2]
        out = patches.reshape(k * positions, -1) @ self.weight
        out = torch.relu(out + self.bias) * self.scale + self.shift
        return out.view(k, positions, -1).amax(dim=1)


class _TemporalColumns(nn.Module):
    """The temporal branches (one band wide, ``kernel`` frames long, then max over frequency) as one matrix
    product over the last ``span`` input frames: each branch's taps sit ``delay`` frames before the newest.

    Args:
        branches: ``(conv, norm, delay)`` per branch; ``span`` is the largest ``kernel + delay``.

    Buffers: ``weight`` ``(span, filters)`` (zero outside each branch's taps), ``bias``, ``scale``, ``shift``
    ``(filters,)``, filters concatenated in the order given.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, branches: list[tuple[nn.Conv2d, nn.BatchNorm2d, int]]) -> None:
        super().__init__()
        self.span = max(conv.kernel_size[0] + delay for conv, _, delay in branches)
        columns, biases, scales, shifts = [], [], [], []
        for conv, norm, delay in branches:
            assert conv.bias is not None, "musicnn's convolutions have a bias"
            kernel = conv.kernel_size[0]
            taps = torch.zeros(self.span, conv.out_channels)
            taps[self.span - delay - kernel : self.span - delay] = conv.weight.detach()[:, 0, :, 0].t()
            columns.append(taps)
            biases.append(conv.bias.detach())
            scale, shift = _folded_norm(norm)
            scales.append(scale)
            shifts.append(shift)
        self.register_buffer("weight", torch.cat(columns, dim=1), persistent=False)
        self.register_buffer("bias", torch.cat(biases), persistent=False)
        self.register_buffer("scale", torch.cat(scales), persistent=False)
        self.register_buffer("shift", torch.cat(shifts), persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs (span - 1 + k, bands)`` (time first) -> ``(k, filters)``."""
        windows = inputs.unfold(0, self.span, 1)  # (k, bands, span)
        out = torch.relu(windows @ self.weight + self.bias) * self.scale + self.shift
        return out.amax(dim=1)


def _folded_norm(norm: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The moving batch-norm as ``x * scale + shift``."""
    mean, var = norm.running_mean, norm.running_var
    assert mean is not None and var is not None, "musicnn's batch-norms track running statistics"
    scale = norm.weight.detach() / torch.sqrt(var + norm.eps)
    return scale, norm.bias.detach() - mean * scale


class CausalMusicnn(nn.Module):
    """A loaded :class:`~damer_core.musicnn.Musicnn` run column by column (see the module docstring).

    Args:
        network: the musicnn weights (frozen, eval mode).
        variant: ``"causal"`` or ``"aligned"``.
        pool_frames: columns pooled by the back-end (187 = 3 s, the patch musicnn was trained on).
        embedding: what :meth:`embed` returns per frame: ``"penultimate"`` (200-d) or ``"taggram"`` (50 tag
            probabilities).

    ``forward(mel (k, 96), state) -> (max_pool (k, 753), mean_pool (k, 753), new_state)``: the features of the
    back-end pooled over the last ``pool_frames`` columns, one row per frame pushed.

    Delays never need their own buffers: a branch or layer whose output the aligned variant delays instead
    reads older rows of its input history, and the mid-end histories are kept long enough to give the
    front-end and mid-end columns at the age the concatenation needs.
    """

    input_scale: torch.Tensor
    input_shift: torch.Tensor
    dense_weight: torch.Tensor
    dense_bias: torch.Tensor
    dense_scale: torch.Tensor
    dense_shift: torch.Tensor

    def __init__(
        self,
        network: Musicnn,
        variant: MusicnnVariant = "causal",
        pool_frames: int = 187,
        embedding: MusicnnEmbedding = "penultimate",
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: must be one of {VARIANTS}, got {variant!r}")
        if embedding not in EMBEDDING_SIZES:
            raise ValueError(f"embedding: must be one of {tuple(EMBEDDING_SIZES)}, got {embedding!r}")
        if pool_frames < 1:
            raise ValueError(f"pool_frames: must be >= 1, got {pool_frames}")
        self.network = network.eval().requires_grad_(False)
        self.variant = variant
        self.pool_frames = pool_frames
        self.embedding = embedding
        input_scale, input_shift = _folded_norm(network.input_norm)
        self.register_buffer("input_scale", input_scale, persistent=False)
        self.register_buffer("input_shift", input_shift, persistent=False)
        self._fold_back_end(network)
        aligned = variant == "aligned"
        # nn.ModuleList iterates as plain modules; musicnn's lists hold these layer classes.
        timbral = cast("list[_FrequencyPooledConv]", list(network.timbral))
        temporal = cast("list[_FrequencyPooledConv]", list(network.temporal))
        midend = cast("list[_TimeConv]", list(network.midend))
        front_lag = max(_lookahead(branch.conv.kernel_size[0]) for branch in (*timbral, *temporal))

        def delay(kernel: int) -> int:
            """Frames by which the aligned variant holds back a front-end branch (to the largest look-ahead)."""
            return front_lag - _lookahead(kernel) if aligned else 0

        timbral_columns = [_ConvColumns(branch.conv, branch.norm) for branch in timbral]
        self.timbral = nn.ModuleList(timbral_columns)
        self.timbral_delays = [delay(branch.kernel) for branch in timbral_columns]
        self.temporal = _TemporalColumns([(b.conv, b.norm, delay(b.conv.kernel_size[0])) for b in temporal])
        self.history = max(
            self.temporal.span - 1,
            *(b.kernel - 1 + d for b, d in zip(timbral_columns, self.timbral_delays, strict=True)),
        )
        midend_columns = [_ConvColumns(layer.conv, layer.norm) for layer in midend]
        self.midend = nn.ModuleList(midend_columns)
        mid_lag = _lookahead(MIDEND_KERNEL) if aligned else 0
        n_mid = len(self.midend)
        self.widths = [FRONTEND_CHANNELS] + [layer.weight.shape[1] for layer in midend_columns]
        # Age (in columns) at which each mid-end input enters the concatenation, and how many past columns
        # each mid-end layer keeps: enough for its kernel and for that age.
        self.concat_delays = [mid_lag * (n_mid - i) for i in range(n_mid + 1)]
        self.mid_history = [max(MIDEND_KERNEL - 1, self.concat_delays[i]) for i in range(n_mid)]
        self.residual_delay = mid_lag
        # Lag (frames) of the columns entering each mid-end layer; in the aligned variant, columns of negative
        # original time must enter as the original's zero padding.
        self.midend_input_lags = [front_lag + i * mid_lag if aligned else 0 for i in range(n_mid)]
        self.lag = front_lag + n_mid * mid_lag if aligned else 0

    def _fold_back_end(self, network: Musicnn) -> None:
        """The back-end's first batch-norm folded into its dense layer, whose weight is split into the rows
        of the max and of the mean pools (the original interleaves them): buffers ``dense_weight``
        ``(2 * 753, 200)`` (max rows, then mean rows), ``dense_bias``, ``dense_scale``, ``dense_shift``
        ``(200,)``."""
        pool_scale, pool_shift = _folded_norm(network.pool_norm)
        weight = network.dense.weight.detach()  # (200, 1506), inputs interleaved (max, mean) per channel
        folded = weight * pool_scale
        self.register_buffer(
            "dense_weight", torch.cat((folded[:, 0::2], folded[:, 1::2]), dim=1).t().contiguous(), persistent=False
        )
        self.register_buffer("dense_bias", network.dense.bias.detach() + weight @ pool_shift, persistent=False)
        dense_scale, dense_shift = _folded_norm(network.dense_norm)
        self.register_buffer("dense_scale", dense_scale, persistent=False)
        self.register_buffer("dense_shift", dense_shift, persistent=False)

    @property
    def embedding_size(self) -> int:
        """Width of :meth:`embed`'s output."""
        return EMBEDDING_SIZES[self.embedding]

    def init_state(self) -> State:
        """Zero caches, time first: the input history (``"input"``, normalised frames), the mid-end input
        histories (``"mid{i}.input"``), the last ``pool_frames - 1`` columns (``"pool"``) and the count of
        columns produced so far (``"columns"``)."""
        state: State = {"input": torch.zeros(self.history, N_MELS), "columns": torch.zeros((), dtype=torch.int64)}
        for i, length in enumerate(self.mid_history):
            state[f"mid{i}.input"] = torch.zeros(length, self.widths[i])
        state["pool"] = torch.zeros(self.pool_frames - 1, FEATURE_CHANNELS)
        return state

    @torch.no_grad()
    def forward(self, mel: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor, State]:
        if mel.ndim != 2 or mel.shape[1] != N_MELS:
            raise ValueError(f"musicnn frames: expected shape (frames, {N_MELS}), got {tuple(mel.shape)}")
        mel = mel.to(torch.float32)
        pooled_max, pooled_mean = [], []
        for start in range(0, mel.shape[0], _CHUNK):
            max_pool, mean_pool, state = self._chunk(mel[start : start + _CHUNK], state)
            pooled_max.append(max_pool)
            pooled_mean.append(mean_pool)
        if not pooled_max:
            empty = torch.zeros(0, FEATURE_CHANNELS)
            return empty, empty.clone(), dict(state)
        return torch.cat(pooled_max), torch.cat(pooled_mean), state

    def _chunk(self, mel: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor, State]:
        new_state: State = {}
        k = mel.shape[0]
        history = torch.cat((state["input"], mel * self.input_scale + self.input_shift))
        new_state["input"] = history[k:]
        end = history.shape[0]
        front = [
            branch(history[end - delay - (branch.kernel - 1 + k) : end - delay])
            for branch, delay in zip(cast("Iterable[_ConvColumns]", self.timbral), self.timbral_delays, strict=True)
        ]
        front.append(self.temporal(history[end - (self.temporal.span - 1 + k) :]))
        current = torch.cat(front, dim=1)
        columns = int(state["columns"])
        concat = []
        for i, layer in enumerate(self.midend):
            first_valid = self.midend_input_lags[i] - columns
            if first_valid > 0:  # columns of negative original time enter as zero padding
                current[:first_valid] = 0.0
            inputs = torch.cat((state[f"mid{i}.input"], current))
            kept = self.mid_history[i]
            new_state[f"mid{i}.input"] = inputs[k:]
            concat.append(inputs[kept - self.concat_delays[i] : kept - self.concat_delays[i] + k])
            out = layer(inputs[kept - (MIDEND_KERNEL - 1) :])
            if i > 0:
                out = out + inputs[kept - self.residual_delay : kept - self.residual_delay + k]
            current = out
        concat.append(current)
        features = torch.cat(concat, dim=1)
        max_pool, mean_pool = self._pool(features, columns, state, new_state)
        return max_pool, mean_pool, new_state

    def _pool(
        self, features: torch.Tensor, columns: int, state: State, new_state: State
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Max and mean over the valid columns among the last ``pool_frames`` of each new column."""
        k, window = features.shape[0], self.pool_frames
        new_state["columns"] = state["columns"] + k
        joined = torch.cat((state["pool"], features))
        new_state["pool"] = joined[joined.shape[0] - (window - 1) :]
        first_valid = self.lag - (columns - (window - 1))  # rows of ``joined`` before this are not columns yet
        if first_valid <= 0:
            windows = joined.unfold(0, window, 1)
            return windows.amax(dim=2), windows.sum(dim=2) / window
        valid = (torch.arange(joined.shape[0]) >= first_valid).unsqueeze(1)
        windows_max = joined.masked_fill(~valid, -torch.inf).unfold(0, window, 1)
        windows_sum = joined.masked_fill(~valid, 0.0).unfold(0, window, 1)
        counts = valid[:, 0].to(features.dtype).unfold(0, window, 1).sum(dim=1, keepdim=True)
        max_pool = torch.where(counts > 0, windows_max.amax(dim=2), 0.0)
        mean_pool = windows_sum.sum(dim=2) / counts.clamp_min(1.0)
        return max_pool, mean_pool

    @torch.no_grad()
    def embed(self, max_pool: torch.Tensor, mean_pool: torch.Tensor) -> torch.Tensor:
        """The configured embedding of pooled features: ``(k, 753), (k, 753) -> (k, embedding_size)``."""
        hidden = torch.addmm(self.dense_bias, torch.cat((max_pool, mean_pool), dim=1), self.dense_weight)
        penultimate = torch.relu(hidden) * self.dense_scale + self.dense_shift
        if self.embedding == "penultimate":
            return penultimate
        return torch.sigmoid(self.network.classifier(penultimate))
