"""Reader for Memo2496 as released (Li, Chen & Zhang, arXiv 2512.13998): precomputed features, no audio.

Files, found by name anywhere below the dataset folder:

- ``mel_spec.npy``: shape ``(2496, 128, 87)`` log-Mel spectrograms, (clip, band, frame).
- ``cochlegram.npy``: shape ``(2496, 84, 87)`` cochleagrams, (clip, channel, frame).
- ``labels/label_v.npy`` and ``labels/label_a.npy``: shape ``(2496,)`` (or ``(2496, 1)``) valence and
  arousal per clip.

Each clip is 1 s of audio at 22050 Hz analysed with hop 256 and centred frames (87 frames per second), which
our left-aligned front-end does not reproduce: clips carry the arrays as :class:`ClipFeatures` (transposed
to (frame, band), float32) and a model trained on them records :data:`MEMO2496_SPEC`, whose
``source="memo2496"`` tells the engine that live audio cannot feed it.

Label scale: the release does not state it. The labels are zero-centred: the authors' own classification
code marks a clip "high" when its label is > 0 and "low" otherwise, and the paper's annotator-consistency
threshold of 0.25 (Euclidean distance in the valence-arousal plane) only makes sense on a small signed
scale. Values are therefore taken as already in [-1, 1] and used unchanged; any value outside [-1, 1] (or
non-finite) raises :class:`~train.errors.DatasetError` naming the file and clip index, since it would mean
the scale assumption is wrong. Clip ids and groups are the row indices (one clip per track).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from damer_core.spec import FeatureSpec
from train.datasets.clip import Clip, ClipFeatures
from train.datasets.tables import find_path
from train.errors import DatasetError

SOURCE = "memo2496"
MEMO2496_SPEC = FeatureSpec(source="memo2496")


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy array ({exc})") from None


def _features(path: Path, bins: int, n_clips: int | None) -> np.ndarray:
    """``(n_clips, n_frames, bins)`` float32 from a ``(n_clips, bins, n_frames)`` file, checked."""
    array = _load(path)
    if array.ndim != 3 or array.shape[1] != bins or (n_clips is not None and array.shape[0] != n_clips):
        clips = "n_clips" if n_clips is None else str(n_clips)
        raise DatasetError(f"{path}: expected shape ({clips}, {bins}, n_frames), got {array.shape}")
    features = np.ascontiguousarray(np.transpose(array, (0, 2, 1)), dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(features).all(axis=(1, 2)))
    if bad.size:
        raise DatasetError(f"{path}: clip {bad[0]} has non-finite values")
    return features


def _labels(path: Path, n_clips: int) -> np.ndarray:
    array = _load(path)
    if array.shape not in ((n_clips,), (n_clips, 1)):
        raise DatasetError(f"{path}: expected shape ({n_clips},) like the features, got {array.shape}")
    labels = np.asarray(array, dtype=np.float64).reshape(n_clips)
    bad = np.flatnonzero(~(np.abs(labels) <= 1.0))
    if bad.size:
        raise DatasetError(f"{path}: clip {bad[0]} has label {float(labels[bad[0]])!r}, outside the [-1, 1] scale")
    return labels


def read_memo2496(root: str | Path) -> list[Clip]:
    """Every Memo2496 clip below ``root``, with its features and labels (see the module docstring).

    Raises:
        DatasetError: a file is missing, ambiguous or unreadable, shapes disagree with
            :data:`MEMO2496_SPEC` or with each other, or a value is non-finite or out of range.
    """
    root = Path(root)
    mel = _features(find_path(root, "mel_spec.npy"), MEMO2496_SPEC.mel.n_mels, None)
    coch_path = find_path(root, "cochlegram.npy")
    coch = _features(coch_path, MEMO2496_SPEC.cochleagram.n_channels, mel.shape[0])
    if coch.shape[1] != mel.shape[1]:
        raise DatasetError(f"{coch_path}: {coch.shape[1]} frames per clip, but mel_spec.npy has {mel.shape[1]}")
    valence = _labels(find_path(root, "label_v.npy"), mel.shape[0])
    arousal = _labels(find_path(root, "label_a.npy"), mel.shape[0])
    return [
        Clip(
            track_id=str(i),
            source=SOURCE,
            group=str(i),
            valence=float(valence[i]),
            arousal=float(arousal[i]),
            features=ClipFeatures(mel[i], coch[i]),
        )
        for i in range(mel.shape[0])
    ]
