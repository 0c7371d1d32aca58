"""The records every dataset reader yields: :class:`Clip`, its optional :class:`DynamicLabels` and, for
datasets released as features instead of audio, its :class:`ClipFeatures`.

Conventions shared by all readers:

- Valence and arousal are in [-1, 1]; ``NaN`` means "not labelled" (unlabelled audio for pseudo-labelling,
  or a dimension a dataset does not annotate). Each reader maps its own scale and says how in its docstring.
- "High" means strictly greater than 0, so a clip's quadrant is Q1 = +V+A, Q2 = -V+A, Q3 = -V-A, Q4 = +V-A
  with 0 counted as low (:func:`train.metrics.quadrant_of`).
- Dynamic label times are seconds from the start of the clip's audio file (or of its feature frames), and
  each value describes the music around that instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.metrics import quadrant_of


@dataclass(frozen=True, eq=False)
class ClipFeatures:
    """Precomputed features of one clip, frame-aligned.

    Attributes:
        mel: log-Mel frames, shape ``(n_frames, n_mels)``, float32.
        coch: log cochleagram frames, shape ``(n_frames, n_channels)``, float32.
        musicnn: the pretrained musicnn view, shape ``(n_frames, size)``, float32; ``None`` when the
            feature spec has no musicnn view.
    """

    mel: np.ndarray
    coch: np.ndarray
    musicnn: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mel.ndim != 2 or self.coch.ndim != 2 or self.mel.shape[0] != self.coch.shape[0]:
            raise ValueError(
                f"mel {self.mel.shape} and coch {self.coch.shape} must be (n_frames, bins), equal n_frames"
            )
        if self.musicnn is not None and (self.musicnn.ndim != 2 or self.musicnn.shape[0] != self.mel.shape[0]):
            raise ValueError(f"musicnn {self.musicnn.shape} must be (n_frames, size) with n_frames {self.mel.shape[0]}")

    @property
    def n_frames(self) -> int:
        """Number of frames shared by both views."""
        return int(self.mel.shape[0])


@dataclass(frozen=True, eq=False)
class DynamicLabels:
    """Time-varying valence/arousal of one clip.

    Attributes:
        times_s: shape ``(k,)`` float64, seconds from the start of the clip, strictly increasing.
        valence: shape ``(k,)`` float32 in [-1, 1]; ``NaN`` where valence was not annotated at that time.
        arousal: shape ``(k,)`` float32 in [-1, 1]; ``NaN`` where arousal was not annotated at that time.
    """

    times_s: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray

    def __post_init__(self) -> None:
        k = self.times_s.shape
        if self.times_s.ndim != 1 or self.valence.shape != k or self.arousal.shape != k or k[0] == 0:
            raise ValueError("times_s, valence and arousal must be equal, non-empty 1-D arrays")
        if not np.all(np.diff(self.times_s) > 0):
            raise ValueError("times_s must be strictly increasing")
        for values in (self.valence, self.arousal):
            if np.any(np.abs(values[~np.isnan(values)]) > 1):
                raise ValueError("dynamic labels must lie in [-1, 1]")

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """Labels at arbitrary instants, interpolated linearly between each dimension's labelled instants.

        Args:
            times_s: shape ``(n,)``, seconds from the start of the clip.

        Returns:
            float32 ``(n, 2)`` with columns [valence, arousal]; ``NaN`` before a dimension's first or after
            its last labelled instant (no label there) and where a dimension has no label at all.
        """
        times_s = np.asarray(times_s, dtype=np.float64)
        out = np.full((times_s.size, 2), np.nan, dtype=np.float32)
        for column, values in enumerate((self.valence, self.arousal)):
            known = ~np.isnan(values)
            if known.any():
                t, v = self.times_s[known], values[known].astype(np.float64)
                inside = (times_s >= t[0]) & (times_s <= t[-1])
                out[inside, column] = np.interp(times_s[inside], t, v)
        return out


@dataclass(frozen=True, eq=False)
class Clip:
    """One labelled, partly labelled or unlabelled music clip.

    Exactly one of ``audio_path`` and ``features`` is set: audio datasets point at a file that the feature
    cache turns into features; datasets released as features (Memo2496) carry them.

    Attributes:
        track_id: identifier unique within ``source`` (a dataset's song id, or a path relative to its root).
        source: dataset name, e.g. ``"deam"``, ``"4q"``, ``"synthetic"``; identifies the style domain.
        group: splitting unit: clips sharing a group (the same artist, or the same track) must all fall on
            one side of a train/validation split.
        valence: clip-level valence in [-1, 1], ``NaN`` when unlabelled.
        arousal: clip-level arousal in [-1, 1], ``NaN`` when unlabelled.
        audio_path: the audio file, when the clip is audio.
        features: precomputed features, when the clip is not audio.
        dynamic: time-varying labels, when the dataset has them.
        confidence: trust in the labels in (0, 1], usable as a loss weight; 1 unless a reader says otherwise.
    """

    track_id: str
    source: str
    group: str
    valence: float = math.nan
    arousal: float = math.nan
    audio_path: Path | None = None
    features: ClipFeatures | None = None
    dynamic: DynamicLabels | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if (self.audio_path is None) == (self.features is None):
            raise ValueError(f"{self.key}: exactly one of audio_path and features must be given")
        for name in ("valence", "arousal"):
            value = getattr(self, name)
            if not (math.isnan(value) or -1.0 <= value <= 1.0):
                raise ValueError(f"{self.key}: {name} {value} outside [-1, 1]")
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError(f"{self.key}: confidence {self.confidence} outside (0, 1]")

    @property
    def key(self) -> str:
        """``"source:track_id"``, unique across every reader."""
        return f"{self.source}:{self.track_id}"

    @property
    def is_labelled(self) -> bool:
        """True when both clip-level dimensions are labelled."""
        return not (math.isnan(self.valence) or math.isnan(self.arousal))

    @property
    def quadrant(self) -> int | None:
        """Russell quadrant 1..4 of the clip-level label, ``None`` when unlabelled."""
        return int(quadrant_of(np.float64(self.valence), np.float64(self.arousal))) if self.is_labelled else None
