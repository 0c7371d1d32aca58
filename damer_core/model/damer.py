"""DamerModel: the causal, windowed DAMER network, offline and streaming.

Data flow per token (``frames_per_token`` frames of each view on one frame grid)::

    mel frames  ─▶ ViewEncoder ─┬─▶ window mean ─▶ view head ─▶ view_va["mel"], view_logits["mel"]
                                ▼
                           DSAF blocks ─▶ gated fusion ─▶ temporal layers ─▶ heads ─▶ va, logits, embedding
                                ▲
    coch frames ─▶ ViewEncoder ─┴─▶ window mean ─▶ view head ─▶ view_va["cochleagram"], view_logits[...]

A model may also read the pretrained musicnn view (``views`` with ``"musicnn"``: one musicnn embedding per
frame from :mod:`damer_core.features.musicnn_view`); it is encoded like the others and joins the same
DSAF blocks (every view attends to every other, see :mod:`damer_core.model.fusion`) and gate.

Everything is causal: token ``n`` depends on frames ``< (n + 1) * frames_per_token`` only. The encoders see
a receptive field of ``1 + (kernel_size - 1) * (2**encoder_blocks - 1)`` tokens; DSAF sees
``fusion_window_tokens``, the temporal layers and the view heads ``window_tokens`` (W).

:meth:`DamerModel.forward` processes whole sequences (training, evaluation); :meth:`DamerModel.step`
processes one token with an explicit state of fixed size (live use) and computes the same numbers as the
eval-mode forward pass. :meth:`DamerModel.streaming` wraps ``step`` for any number of new frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from damer_core.errors import AudioError, ConfigError
from damer_core.model.config import ModelConfig
from damer_core.model.encoder import ViewEncoder
from damer_core.model.fusion import ConcatFusion, DSAFBlock, GatedFusion
from damer_core.model.heads import EmbeddingHead, EmotionHead, window_mean
from damer_core.model.layers import shift_in
from damer_core.model.output import DamerOutput, empty_output
from damer_core.model.streaming import StreamingDamer
from damer_core.model.temporal import TemporalLayer
from damer_core.spec import FeatureSpec

State = dict[str, torch.Tensor]


class DamerModel(nn.Module):
    """DAMER for one :class:`FeatureSpec` and one :class:`ModelConfig`.

    Args:
        config: the hyper-parameters.
        spec: the front-end the model reads (it fixes the number of Mel bins, cochleagram channels and
            musicnn values per frame).

    Raises:
        ConfigError: the config reads the musicnn view but the spec has none.

    The model is built on the CPU in float32; move it with ``.to(device)`` (see
    :func:`damer_core.model.device.place_model`).
    """

    def __init__(self, config: ModelConfig, spec: FeatureSpec) -> None:
        super().__init__()
        self.config = config
        self.spec = spec
        self.views = config.views
        if "musicnn" in self.views and spec.musicnn is None:
            raise ConfigError(
                "model.views: reads 'musicnn' but the feature spec has no musicnn view (features.musicnn)"
            )
        self.n_bins = {
            "mel": spec.mel.n_mels,
            "cochleagram": spec.cochleagram.n_channels,
            "musicnn": 0 if spec.musicnn is None else spec.musicnn.size,
        }
        d = config.d_model
        self.encoders = nn.ModuleDict(
            {
                view: ViewEncoder(
                    view,
                    self.n_bins[view],
                    config.frames_per_token,
                    d,
                    config.encoder_blocks,
                    config.kernel_size,
                    config.ffn_mult,
                    config.dropout,
                )
                for view in self.views
            }
        )
        self.view_heads = nn.ModuleDict({view: EmotionHead(d) for view in self.views})
        several = len(self.views) >= 2
        n_dsaf = config.dsaf_blocks if several and config.fusion == "dsaf" else 0
        self.dsaf = nn.ModuleList(
            DSAFBlock(
                f"dsaf{i}", self.views, d, config.n_heads, config.fusion_window_tokens, config.ffn_mult, config.dropout
            )
            for i in range(n_dsaf)
        )
        self.fusion: nn.Module | None = None
        if several:
            fusion = GatedFusion if config.fusion == "dsaf" else ConcatFusion
            self.fusion = fusion(d, len(self.views))
        self.temporal = nn.ModuleList(
            TemporalLayer(f"temporal{i}", d, config.n_heads, config.window_tokens, config.ffn_mult, config.dropout)
            for i in range(config.temporal_layers)
        )
        self.head = EmotionHead(d)
        self.probe = nn.Linear(self.n_bins["musicnn"], 4) if config.probe else None
        self.embedding = EmbeddingHead(d, config.embed_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    # nn.ModuleDict and nn.ModuleList hand out plain modules; these give them back as what they are.
    def _encoder(self, view: str) -> ViewEncoder:
        return cast(ViewEncoder, self.encoders[view])

    def _dsaf_blocks(self) -> Iterable[DSAFBlock]:
        return cast("Iterable[DSAFBlock]", self.dsaf)

    def _temporal_layers(self) -> Iterable[TemporalLayer]:
        return cast("Iterable[TemporalLayer]", self.temporal)

    @property
    def frames_per_token(self) -> int:
        """Feature frames per token."""
        return self.config.frames_per_token

    def token_end_seconds(self, token: int) -> float:
        """Audio time (s from the stream start) at which token ``token`` is complete: the end of its last frame."""
        return self.spec.frame_end_seconds((token + 1) * self.config.frames_per_token - 1)

    @property
    def context_tokens(self) -> int:
        """How many tokens before token ``n`` its outputs can depend on (the receptive field less one).

        The encoders' causal convolutions reach back ``(kernel_size - 1) * (2**encoder_blocks - 1)`` tokens;
        after them, in series, each DSAF block reaches ``fusion_window_tokens - 1`` and each temporal layer
        ``window_tokens - 1`` further; the view heads' windows and the probe's (``window_tokens - 1``) sit
        beside those.
        :meth:`forward` over a sequence that starts at least this many tokens before ``n`` gives token ``n``
        the outputs it gets from the whole stream (up to float rounding), which lets a long file be
        computed in chunks.
        """
        config = self.config
        encoders = (config.kernel_size - 1) * (2**config.encoder_blocks - 1)
        fused = len(self.dsaf) * (config.fusion_window_tokens - 1) + config.temporal_layers * (config.window_tokens - 1)
        return encoders + max(fused, config.window_tokens - 1)

    def set_input_stats(
        self,
        mel_mean: npt.ArrayLike,
        mel_std: npt.ArrayLike,
        coch_mean: npt.ArrayLike,
        coch_std: npt.ArrayLike,
        musicnn_mean: npt.ArrayLike | None = None,
        musicnn_std: npt.ArrayLike | None = None,
    ) -> None:
        """Set the fixed per-bin input normalisation from training-data statistics.

        Args:
            mel_mean, mel_std: ``(n_mels,)`` mean and standard deviation of the log-Mel bins.
            coch_mean, coch_std: ``(n_channels,)`` the same for the log-cochleagram channels.
            musicnn_mean, musicnn_std: ``(musicnn size,)`` the same for the musicnn view (``None``: left as
            they are). Statistics of a view the model does not read are checked and ignored.

        Raises:
            AudioError: a statistic has the wrong shape, is not finite, or a std is not positive.
        """
        stats: dict[str, tuple[npt.ArrayLike | None, npt.ArrayLike | None]] = {
            "mel": (mel_mean, mel_std),
            "cochleagram": (coch_mean, coch_std),
        }
        if musicnn_mean is not None or musicnn_std is not None:
            stats["musicnn"] = (musicnn_mean, musicnn_std)
        for view, (mean, std) in stats.items():
            mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float64))
            std_t = torch.as_tensor(np.asarray(std, dtype=np.float64))
            for what, tensor in (("mean", mean_t), ("std", std_t)):
                if tensor.shape != (self.n_bins[view],):
                    raise AudioError(
                        f"{view} input {what}: expected shape ({self.n_bins[view]},), got {tuple(tensor.shape)}"
                    )
                if not bool(torch.isfinite(tensor).all()):
                    raise AudioError(f"{view} input {what}: contains non-finite values")
            if not bool((std_t > 0).all()):
                raise AudioError(f"{view} input std: must be > 0 in every bin")
            if view in self.encoders:
                encoder = self._encoder(view)
                encoder.mean.copy_(mean_t)
                encoder.std.copy_(std_t)

    def forward(self, mel: torch.Tensor, coch: torch.Tensor, musicnn: torch.Tensor | None = None) -> DamerOutput:
        """Whole sequences: ``mel (B, T, n_mels)``, ``coch (B, T, n_channels)`` and, for a model that reads it,
        ``musicnn (B, T, size)`` -> outputs for ``N = T // frames_per_token`` tokens. A view the model does not
        read may be any tensor (or ``None`` for the musicnn view).

        Memory grows as ``N * window_tokens``; cost is linear in ``N``.
        """
        frames = self._check_frames(mel, coch, musicnn)
        reference = frames[self.views[0]]
        if reference.shape[1] < self.frames_per_token:
            batch, embed_dim = reference.shape[0], self.config.embed_dim
            return empty_output(batch, embed_dim, self.views, reference.device, reference.dtype)
        tokens = {view: self.encoders[view](frames[view]) for view in self.views}
        view_va: dict[str, torch.Tensor] = {}
        view_logits: dict[str, torch.Tensor] = {}
        for view in self.views:
            pooled = window_mean(tokens[view], self.config.window_tokens)
            view_va[view], view_logits[view] = self.view_heads[view](pooled)
        if self.fusion is None:
            x = tokens[self.views[0]]
        else:
            for block in self.dsaf:
                tokens = block(tokens)
            x = self.fusion([tokens[view] for view in self.views])
        for layer in self.temporal:
            x = layer(x)
        prior = None
        if self.probe is not None:
            prior = self.probe(window_mean(self._probe_tokens(frames["musicnn"]), self.config.window_tokens))
        va, logits = self.head(x, prior)
        return DamerOutput(va, logits, self.embedding(x), view_va, view_logits)

    def _probe_tokens(self, frames: torch.Tensor) -> torch.Tensor:
        """The probe's input per token: the mean of the token's normalised musicnn frames, ``(B, N, size)``."""
        encoder = self._encoder("musicnn")
        per_token = self.frames_per_token
        n_tokens = frames.shape[1] // per_token
        normalised = (frames[:, : n_tokens * per_token] - encoder.mean) / encoder.std
        return normalised.reshape(frames.shape[0], n_tokens, per_token, frames.shape[2]).mean(dim=2)

    def _check_frames(
        self, mel: torch.Tensor, coch: torch.Tensor, musicnn: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """The frames of the views the model reads, checked, on the model's device and dtype."""
        given = {"mel": mel, "cochleagram": coch, "musicnn": musicnn}
        frames: dict[str, torch.Tensor] = {}
        reference = self.head.linear.weight
        lengths = set()
        for view in self.views:
            x = given[view]
            if x is None:
                raise AudioError(f"{view} frames: this model reads the {view} view, but none were given")
            if x.ndim != 3 or x.shape[2] != self.n_bins[view]:
                raise AudioError(
                    f"{view} frames: expected shape (batch, frames, {self.n_bins[view]}), got {tuple(x.shape)}"
                )
            lengths.add((x.shape[0], x.shape[1]))
            frames[view] = x.to(device=reference.device, dtype=reference.dtype)
        if len(lengths) > 1:
            raise AudioError(f"{', '.join(self.views)} frames differ in (batch, frames): {sorted(lengths)}")
        return frames

    def init_state(
        self, batch: int = 1, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Fresh streaming state of fixed size for ``batch`` streams (on the model's device and dtype by default).

        Keys: ``"window.mask"`` ``(B,1,1,W)`` (0 for a filled slot, -inf for an empty one),
        ``"window.count"`` ``(B,1,1)`` (filled slots), ``"fusion.mask"`` ``(B,1,1,fusion_window)`` when DSAF
        is used, ``"<view>.conv<i>"`` encoder conv caches, ``"<view>.pool"`` ``(B,W,d)`` the last W encoder
        tokens for the view heads, ``"probe.pool"`` ``(B,W,size)`` the last W probe inputs (with
        ``probe``), ``"dsaf<i>.<direction>.keys|values"`` and ``"temporal<i>.keys|values"``
        ``(B,H,window,head_dim)`` attention caches. All caches start at zero.
        """
        reference = self.head.linear.weight
        device = reference.device if device is None else torch.device(device)
        dtype = reference.dtype if dtype is None else dtype
        window = self.config.window_tokens
        state: State = {
            "window.mask": torch.full((batch, 1, 1, window), -math.inf, device=device, dtype=dtype),
            "window.count": torch.zeros(batch, 1, 1, device=device, dtype=dtype),
        }
        if len(self.dsaf) > 0:
            shape = (batch, 1, 1, self.config.fusion_window_tokens)
            state["fusion.mask"] = torch.full(shape, -math.inf, device=device, dtype=dtype)
        for view in self.views:
            state.update(self._encoder(view).init_state(batch, device, dtype))
            state[f"{view}.pool"] = torch.zeros(batch, window, self.config.d_model, device=device, dtype=dtype)
        if self.probe is not None:
            state["probe.pool"] = torch.zeros(batch, window, self.n_bins["musicnn"], device=device, dtype=dtype)
        for block in self._dsaf_blocks():
            state.update(block.init_state(batch, device, dtype))
        for layer in self._temporal_layers():
            state.update(layer.init_state(batch, device, dtype))
        return state

    def step(
        self,
        mel_frames: torch.Tensor | None,
        coch_frames: torch.Tensor | None,
        state: State,
        musicnn_frames: torch.Tensor | None = None,
    ) -> tuple[DamerOutput, State]:
        """One token: ``mel_frames (B, frames_per_token, n_mels)``, ``coch_frames (B, frames_per_token,
        n_channels)``, ``musicnn_frames (B, frames_per_token, size)`` for a model that reads that view (in the
        model's dtype and device; an unread view is ignored) and the state from :meth:`init_state` or a
        previous step.

        Returns the outputs for that token (``N == 1``) and the new state; ``state`` itself is not modified,
        so it stays a valid snapshot. Computes the eval-mode function (no dropout); no input checks.
        """
        new_state: State = {}
        filled = torch.zeros_like(state["window.count"]).unsqueeze(-1)  # (B, 1, 1, 1): mask of a new token
        window_mask = shift_in(state["window.mask"], filled, dim=-1)
        count = torch.clamp(state["window.count"] + 1, max=self.config.window_tokens)
        new_state["window.mask"], new_state["window.count"] = window_mask, count
        frames = {"mel": mel_frames, "cochleagram": coch_frames, "musicnn": musicnn_frames}
        tokens: dict[str, torch.Tensor] = {}
        view_va: dict[str, torch.Tensor] = {}
        view_logits: dict[str, torch.Tensor] = {}
        for view in self.views:
            # The caller gives frames of every view the model reads (no input checks here).
            token = self._encoder(view).step(cast(torch.Tensor, frames[view]), state, new_state)
            pool = shift_in(state[f"{view}.pool"], token, dim=1)
            new_state[f"{view}.pool"] = pool
            view_va[view], view_logits[view] = self.view_heads[view](pool.sum(dim=1, keepdim=True) / count)
            tokens[view] = token
        if self.fusion is None:
            x = tokens[self.views[0]]
        else:
            if len(self.dsaf) > 0:
                fusion_mask = shift_in(state["fusion.mask"], filled, dim=-1)
                new_state["fusion.mask"] = fusion_mask
                for block in self._dsaf_blocks():
                    tokens = block.step(tokens, fusion_mask, state, new_state)
            x = self.fusion([tokens[view] for view in self.views])
        for layer in self._temporal_layers():
            x = layer.step(x, window_mask, state, new_state)
        prior = None
        if self.probe is not None:
            pool = shift_in(state["probe.pool"], self._probe_tokens(cast(torch.Tensor, musicnn_frames)), dim=1)
            new_state["probe.pool"] = pool
            prior = self.probe(pool.sum(dim=1, keepdim=True) / count)
        va, logits = self.head(x, prior)
        return DamerOutput(va, logits, self.embedding(x), view_va, view_logits), new_state

    def streaming(self, batch: int = 1, traced: bool = False) -> StreamingDamer:
        """A :class:`StreamingDamer` over this model (usable as a context manager); ``traced=True`` runs the
        step as a TorchScript trace, faster for live use."""
        return StreamingDamer(self, batch, traced)
