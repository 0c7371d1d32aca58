"""FeatureSpec: the one frozen description of the dual-view front-end.

A model bundle records the spec it was trained with (and its hash); whoever loads the bundle checks that
the front-end can produce exactly that spec.

Framing (shared by both views): frame ``t`` covers samples ``[t*hop, t*hop + win_length)``, left-aligned,
no centring, no per-clip normalisation. A streaming front-end emits frame ``t`` as soon as sample
``t*hop + win_length - 1`` has arrived, so both views share one frame index and one emission time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from damer_core.errors import ConfigError

FeatureSource = Literal["audio", "memo2496"]

# SHA-256 of damer_core/models/musicnn_msd.safetensors, the MSD_musicnn weights shipped in the package.
MUSICNN_MSD_SHA256 = "e4945765213eef1f260ca28c82bd0fcd9e6bea543533d2a5241c6edbfe3690ea"


def require(condition: bool, key: str, allowed: str, value: Any) -> None:
    """Raise :class:`ConfigError` naming ``key``, its allowed range and the offending ``value``."""
    if not condition:
        raise ConfigError(f"{key}: must be {allowed}, got {value!r}")


@dataclass(frozen=True)
class MelSpec:
    """Log-Mel view: power spectrum of a periodic Hann window of ``FeatureSpec.win_length`` samples
    (``n_fft == win_length``), a torchaudio Mel filterbank, then ``log(max(power, log_floor))``.

    Attributes:
        n_mels: number of Mel bands.
        f_min: lowest band edge in Hz.
        f_max: highest band edge in Hz; ``None`` means the Nyquist frequency.
        mel_scale: ``"htk"`` or ``"slaney"`` (torchaudio's names).
        norm: ``None`` or ``"slaney"`` (area normalisation of the triangles).
        log_floor: fixed floor applied to the power before the natural log.
    """

    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = None
    mel_scale: Literal["htk", "slaney"] = "htk"
    norm: Literal["slaney"] | None = None
    log_floor: float = 1e-6

    def __post_init__(self) -> None:
        require(self.n_mels > 0, "n_mels", "> 0", self.n_mels)
        require(self.f_min >= 0, "f_min", ">= 0 Hz", self.f_min)
        require(self.f_max is None or self.f_max > self.f_min, "f_max", "> f_min or null", self.f_max)
        require(self.mel_scale in ("htk", "slaney"), "mel_scale", "'htk' or 'slaney'", self.mel_scale)
        require(self.norm in (None, "slaney"), "norm", "null or 'slaney'", self.norm)
        require(self.log_floor > 0, "log_floor", "> 0", self.log_floor)


@dataclass(frozen=True)
class CochleagramSpec:
    """Cochleagram view: ERB-spaced 4th-order gammatone filterbank (Slaney 1993, Apple TR-35: four
    cascaded 2nd-order sections per channel), then the mean of the squared output over each frame's
    ``win_length`` samples, then ``log(max(power, log_floor))``.

    Attributes:
        n_channels: number of gammatone channels, ERB-spaced between ``f_min`` and ``f_max``.
        f_min: centre frequency of the lowest channel in Hz.
        f_max: centre frequency of the highest channel in Hz (below the Nyquist frequency).
        log_floor: fixed floor applied to the mean power before the natural log.
    """

    n_channels: int = 84
    f_min: float = 50.0
    f_max: float = 10000.0
    log_floor: float = 1e-10

    def __post_init__(self) -> None:
        require(self.n_channels > 0, "n_channels", "> 0", self.n_channels)
        require(self.f_min > 0, "f_min", "> 0 Hz", self.f_min)
        require(self.f_max > self.f_min, "f_max", "> f_min", self.f_max)
        require(self.log_floor > 0, "log_floor", "> 0", self.log_floor)


@dataclass(frozen=True)
class MusicnnViewSpec:
    """Pretrained view: the MSD_musicnn tagger run incrementally on its own log-Mel of the stream (16 kHz,
    96 bands), its back-end pooled over the last ``pool_frames`` columns, one embedding per frame of the
    shared frame grid (see :mod:`damer_core.features.musicnn_view`).

    Attributes:
        variant: ``"causal"`` (every convolution reads only the past; no delay) or ``"aligned"`` (the
            original's exact columns, 73 musicnn frames = 1.17 s late).
        pool_frames: musicnn frames (62.5 per second) pooled by the back-end; 187 = 3 s, as trained.
        embedding: ``"penultimate"`` (200 values) or ``"taggram"`` (50 tag probabilities).
        weights_sha256: SHA-256 of the musicnn weights file; the shipped file's by default.
        encoder: what computes the view: ``"musicnn"`` (the tagger itself, as above) or ``"student"`` (a small
            causal network trained to reproduce musicnn's penultimate embedding from the front-end's own
            log-Mel frames, at a tenth of the cost and without the lag: :mod:`damer_core.student`).
        student_sha256: with ``encoder: student``, SHA-256 of the student's weights file (shipped in
            ``damer_core/models/``). A recipe may leave it empty: loading the recipe names the shipped
            student's, so a bundle always records the exact student it was trained with.
    """

    variant: Literal["causal", "aligned"] = "causal"
    pool_frames: int = 187
    embedding: Literal["penultimate", "taggram"] = "penultimate"
    weights_sha256: str = MUSICNN_MSD_SHA256
    encoder: Literal["musicnn", "student"] = "musicnn"
    student_sha256: str = ""

    def __post_init__(self) -> None:
        require(self.encoder in ("musicnn", "student"), "encoder", "'musicnn' or 'student'", self.encoder)
        if self.encoder == "student":
            digits = self.student_sha256
            require(
                digits == "" or (len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)),
                "student_sha256",
                "64 lower-case hex digits (the student's weights), or empty in a recipe: the shipped student's",
                digits,
            )
            require(self.embedding == "penultimate", "embedding", "'penultimate' for a student", self.embedding)
        require(self.variant in ("causal", "aligned"), "variant", "'causal' or 'aligned'", self.variant)
        require(1 <= self.pool_frames <= 1875, "pool_frames", "in 1..1875 (30 s)", self.pool_frames)
        require(self.embedding in ("penultimate", "taggram"), "embedding", "'penultimate' or 'taggram'", self.embedding)
        require(
            len(self.weights_sha256) == 64 and all(c in "0123456789abcdef" for c in self.weights_sha256),
            "weights_sha256",
            "64 lower-case hex digits",
            self.weights_sha256,
        )

    @property
    def size(self) -> int:
        """Values per frame."""
        return 200 if self.embedding == "penultimate" else 50


@dataclass(frozen=True)
class FeatureSpec:
    """The whole front-end: sample rate, framing and both views.

    Attributes:
        sample_rate: audio sample rate in Hz that the front-end consumes.
        hop: frame hop in samples.
        win_length: frame length in samples (the Mel ``n_fft`` and the cochleagram averaging span);
            a whole number of hops.
        mel: the log-Mel view.
        cochleagram: the cochleagram view.
        musicnn: the pretrained musicnn view, or ``None`` (the default) for none; a spec without it hashes
            as it did before the view existed.
        source: ``"audio"`` when this front-end computes the features from audio; ``"memo2496"`` for a
            model trained on Memo2496's released precomputed arrays, which this front-end cannot produce.
    """

    sample_rate: int = 22050
    hop: int = 256
    win_length: int = 2048
    mel: MelSpec = field(default_factory=MelSpec)
    cochleagram: CochleagramSpec = field(default_factory=CochleagramSpec)
    musicnn: MusicnnViewSpec | None = None
    source: FeatureSource = "audio"

    def __post_init__(self) -> None:
        require(self.sample_rate > 0, "sample_rate", "> 0 Hz", self.sample_rate)
        require(self.hop > 0, "hop", "> 0 samples", self.hop)
        require(
            self.win_length >= self.hop and self.win_length % self.hop == 0,
            "win_length",
            f"a positive multiple of hop ({self.hop})",
            self.win_length,
        )
        nyquist = self.sample_rate / 2
        require(self.mel.f_max is None or self.mel.f_max <= nyquist, "mel.f_max", f"<= {nyquist} Hz", self.mel.f_max)
        require(self.mel.f_min < nyquist, "mel.f_min", f"< {nyquist} Hz", self.mel.f_min)
        require(self.cochleagram.f_max < nyquist, "cochleagram.f_max", f"< {nyquist} Hz", self.cochleagram.f_max)
        require(self.source in ("audio", "memo2496"), "source", "'audio' or 'memo2496'", self.source)

    @property
    def n_fft(self) -> int:
        """FFT size of the Mel view (equal to ``win_length``)."""
        return self.win_length

    @property
    def mel_f_max(self) -> float:
        """Upper Mel band edge in Hz with ``None`` resolved to the Nyquist frequency."""
        return float(self.mel.f_max) if self.mel.f_max is not None else self.sample_rate / 2

    @property
    def frame_rate(self) -> float:
        """Frames per second of audio."""
        return self.sample_rate / self.hop

    def n_frames(self, n_samples: int) -> int:
        """Number of whole frames in ``n_samples`` samples (0 if shorter than one window)."""
        return 0 if n_samples < self.win_length else 1 + (n_samples - self.win_length) // self.hop

    def frame_end_seconds(self, frame: int) -> float:
        """Audio time in seconds at which frame ``frame`` is complete (the end of its window)."""
        return (frame * self.hop + self.win_length) / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the form stored in bundles and YAML (without ``musicnn`` when it is ``None``)."""
        data = dataclasses.asdict(self)
        if data["musicnn"] is None:
            del data["musicnn"]
        elif data["musicnn"]["encoder"] == "musicnn":
            # The fields of the student are left out for musicnn itself: such specs hash as before they existed.
            del data["musicnn"]["encoder"], data["musicnn"]["student_sha256"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; validates every value."""
        from damer_core.config import from_mapping

        return from_mapping(cls, data, where="feature spec")

    def hash(self) -> str:
        """Stable hash string of the spec (16 hex digits of SHA-256 over canonical JSON).

        Equal specs hash equally: the values pass through :meth:`from_dict` first, which turns an int given
        for a float field (``f_min=50``) into the float it equals (``50.0``).
        """
        canonical = json.dumps(FeatureSpec.from_dict(self.to_dict()).to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def describe_difference(self, other: FeatureSpec) -> list[str]:
        """Human-readable list of fields that differ, e.g. ``["hop: 256 != 512"]``."""

        def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in d.items():
                if isinstance(value, dict):
                    out.update(flatten(value, f"{prefix}{key}."))
                else:
                    out[f"{prefix}{key}"] = value
            return out

        mine, theirs = flatten(self.to_dict()), flatten(other.to_dict())
        return [
            f"{k}: {mine.get(k)!r} != {theirs.get(k)!r}" for k in sorted(mine | theirs) if mine.get(k) != theirs.get(k)
        ]
