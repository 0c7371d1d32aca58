"""ModelConfig: the hyper-parameters of the causal, windowed DAMER model.

Loaded from YAML or a bundle through :func:`damer_core.config.from_mapping`; every range is checked in
``__post_init__`` so a bad value is a :class:`~damer_core.errors.ConfigError` naming its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from damer_core.spec import require

View = Literal["mel", "cochleagram", "musicnn"]
VIEWS: tuple[View, ...] = ("mel", "cochleagram")
ALL_VIEWS: tuple[View, ...] = ("mel", "cochleagram", "musicnn")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the model and where it runs.

    Attributes:
        d_model: width of every token vector.
        n_heads: attention heads (``d_model`` must be a multiple).
        frames_per_token: feature frames folded into one token. At 22050 Hz / hop 256 (86.13 frames/s)
            the default 2 gives 43.07 tokens/s, so a token waits at most one extra frame (11.6 ms) for
            its partner frame before it can be computed.
        encoder_blocks: causal residual conv blocks per view; block ``i`` has dilation ``2**i``.
        kernel_size: depthwise conv kernel of the encoder blocks (in tokens).
        dsaf_blocks: bidirectional cross-attention (DSAF) blocks before the gated fusion; used only when
            ``fusion == "dsaf"`` and at least two views are present. 0 keeps the gated fusion alone.
        fusion_window_tokens: how many tokens (the current one included) a DSAF query sees of the other
            view; default 43 tokens is about 1 s.
        temporal_layers: causal windowed self-attention layers after the fusion.
        window_tokens: W, how many tokens (the current one included) the temporal model and the per-view
            heads see; default 172 tokens is about 4.0 s. State and cost per step are bounded by W.
        ffn_mult: hidden width of every feed-forward layer, as a multiple of ``d_model``.
        dropout: dropout rate on residual branches and attention weights during training.
        embed_dim: size of the L2-normalised embedding used by the contrastive memory (SAML).
        views: which feature views the model reads, in this order: any of ``"mel"``, ``"cochleagram"`` and
            ``"musicnn"`` (the pretrained view; the feature spec must have it), without repeats.
        fusion: ``"dsaf"`` (cross-attention blocks, then a learned gate) or ``"concat"`` (concatenation and a
            linear layer, the ablation without DSAF). Ignored with one view.
        probe: a linear probe of the pretrained view as a prior the network refines: the mean over the last
            W tokens of the normalised musicnn view (per token, the mean of its frames), through one linear
            map, added to the output head's valence/arousal and logits before their squashing. The clip
            mean of such a probe's outputs is a linear function of the clip's mean embedding, as the
            logistic-regression baselines use; the rest of the network learns what it misses. Needs the
            musicnn view in ``views``.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        half: run inference in float16 when the device is CUDA (ignored on the CPU, which stays float32).
    """

    d_model: int = 96
    n_heads: int = 4
    frames_per_token: int = 2
    encoder_blocks: int = 4
    kernel_size: int = 3
    dsaf_blocks: int = 1
    fusion_window_tokens: int = 43
    temporal_layers: int = 2
    window_tokens: int = 172
    ffn_mult: int = 2
    dropout: float = 0.1
    embed_dim: int = 64
    views: tuple[View, ...] = VIEWS
    fusion: Literal["dsaf", "concat"] = "dsaf"
    probe: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    half: bool = False

    def __post_init__(self) -> None:
        require(self.d_model > 0, "d_model", "> 0", self.d_model)
        require(self.n_heads > 0, "n_heads", "> 0", self.n_heads)
        require(self.d_model % self.n_heads == 0, "d_model", f"a multiple of n_heads ({self.n_heads})", self.d_model)
        require(1 <= self.frames_per_token <= 64, "frames_per_token", "in 1..64", self.frames_per_token)
        require(1 <= self.encoder_blocks <= 10, "encoder_blocks", "in 1..10", self.encoder_blocks)
        require(1 <= self.kernel_size <= 16, "kernel_size", "in 1..16", self.kernel_size)
        require(0 <= self.dsaf_blocks <= 8, "dsaf_blocks", "in 0..8", self.dsaf_blocks)
        require(self.fusion_window_tokens >= 1, "fusion_window_tokens", ">= 1", self.fusion_window_tokens)
        require(0 <= self.temporal_layers <= 12, "temporal_layers", "in 0..12", self.temporal_layers)
        require(self.window_tokens >= 1, "window_tokens", ">= 1", self.window_tokens)
        require(1 <= self.ffn_mult <= 8, "ffn_mult", "in 1..8", self.ffn_mult)
        require(0.0 <= self.dropout < 1.0, "dropout", "in [0, 1)", self.dropout)
        require(self.embed_dim > 0, "embed_dim", "> 0", self.embed_dim)
        require(
            len(self.views) >= 1 and len(set(self.views)) == len(self.views) and set(self.views) <= set(ALL_VIEWS),
            "views",
            "one or more of 'mel', 'cochleagram', 'musicnn' without repeats",
            list(self.views),
        )
        require(self.fusion in ("dsaf", "concat"), "fusion", "'dsaf' or 'concat'", self.fusion)
        require(not self.probe or "musicnn" in self.views, "probe", "false unless views has 'musicnn'", self.probe)
        require(self.device in ("auto", "cpu", "cuda"), "device", "'auto', 'cpu' or 'cuda'", self.device)

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads
