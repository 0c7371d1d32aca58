"""Baselines: logistic regression on frozen clip-level features, fit on some clips, scored on others.

Feature sets (computed once per clip and cached as ``.npz`` under a cache folder):

- ``musicnn``: the frozen MSD_musicnn port (:mod:`damer_core.musicnn`) on non-overlapping 3 s patches of
  the clip, as musicnn's own extractor cuts them (its log-Mel from the clip at 22050 Hz); the 200-value
  penultimate embedding pooled over patches by mean and max (400 values) — "frozen musicnn + logistic
  regression", the number a trained model has to beat — and, as a stronger row, the mean over patches of the
  max- and mean-pooled mid-end (1506 values);
- ``handcrafted`` (needs librosa, in the ``peers`` extra): clip statistics of hand-crafted features — log-Mel
  (64 bands), MFCC (20) and their deltas, chroma, spectral contrast, centroid, bandwidth, roll-off,
  flatness, zero-crossing rate, RMS (mean and standard deviation over frames), onset strength (mean, std,
  max) and tempo — and the spectral centroid's mean and std alone.

Every regression standardises its features (statistics of its training clips) and is L2-regularised; its
inverse strength ``C`` is chosen from :data:`C_GRID` by an inner 5-fold cross-validation grouped by artist
(or track group) *on the training clips only*. Valence and arousal are high/low regressions; the quadrant
is a 4-class (multinomial) regression. :func:`baseline_predictions` gives the predicted classes of the
held-out clips, which :mod:`train.cv` scores like the model's.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from damer_core.features.musicnn_mel import musicnn_log_mel
from damer_core.musicnn import PATCH_FRAMES, load_musicnn
from train.audio import load_audio
from train.datasets import Clip, group_folds
from train.metrics import quadrant_of

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
INNER_FOLDS = 5
SAMPLE_RATE = 22050
FEATURE_SETS = ("musicnn", "handcrafted")

ROWS: dict[str, tuple[str, str]] = {
    "penultimate": ("musicnn", "frozen MSD_musicnn penultimate, mean+max over 3 s patches (400) + LR"),
    "pools": ("musicnn", "frozen MSD_musicnn mid-end pools, mean over patches (1506) + LR"),
    "handcrafted": ("handcrafted", "hand-crafted clip statistics (librosa, 232) + LR"),
    "centroid": ("handcrafted", "spectral centroid mean and std (2) + LR"),
}
"""Baseline rows: the key of the feature in its set, the set, and the row's title."""


# ------------------------------------------------------------------------------------------- features


def musicnn_features(audio: np.ndarray) -> dict[str, np.ndarray]:
    """``{"penultimate": (400,), "pools": (1506,)}`` of a clip at 22050 Hz (see the module docstring)."""
    model = _musicnn()
    mel = torch.from_numpy(musicnn_log_mel(audio, SAMPLE_RATE))
    starts = range(0, max(1, mel.shape[0] - PATCH_FRAMES + 1), PATCH_FRAMES)
    patches = torch.stack([mel[start : start + PATCH_FRAMES] for start in starts])
    with torch.inference_mode():
        # Two patches at a time: larger batches run about twice slower per patch on CPUs (cache misses).
        parts = [model(patches[i : i + 2]) for i in range(0, len(patches), 2)]
    out = type(parts[0])(*(torch.cat(tensors) for tensors in zip(*parts, strict=True)))
    penultimate = torch.cat((out.penultimate.mean(0), out.penultimate.amax(0)))
    pools = torch.cat((out.max_pool.mean(0), out.mean_pool.mean(0)))
    return {"penultimate": penultimate.double().numpy(), "pools": pools.double().numpy()}


@functools.cache
def _musicnn() -> torch.nn.Module:
    return load_musicnn().eval()


def handcrafted_features(audio: np.ndarray) -> dict[str, np.ndarray]:
    """``{"handcrafted": (232,), "centroid": (2,)}`` clip statistics of a clip at 22050 Hz (librosa)."""
    import librosa

    power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=512)) ** 2
    magnitude = np.sqrt(power)
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SAMPLE_RATE, n_mels=64))
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20)
    onset = librosa.onset.onset_strength(S=log_mel, sr=SAMPLE_RATE)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=SAMPLE_RATE))[0])
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=SAMPLE_RATE)
    per_frame = [
        log_mel,
        mfcc,
        librosa.feature.chroma_stft(S=power, sr=SAMPLE_RATE),
        librosa.feature.spectral_contrast(S=magnitude, sr=SAMPLE_RATE),
        centroid,
        librosa.feature.spectral_bandwidth(S=magnitude, sr=SAMPLE_RATE),
        librosa.feature.spectral_rolloff(S=magnitude, sr=SAMPLE_RATE),
        librosa.feature.spectral_flatness(S=magnitude),
        librosa.feature.zero_crossing_rate(audio, hop_length=512),
        librosa.feature.rms(S=magnitude),
    ]
    statistics = [np.concatenate((f.mean(-1), f.std(-1))) for f in per_frame]
    statistics += [librosa.feature.delta(mfcc).std(-1), np.array([onset.mean(), onset.std(), onset.max(), tempo])]
    return {"handcrafted": np.concatenate(statistics), "centroid": np.array([centroid.mean(), centroid.std()])}


EXTRACTORS: dict[str, Callable[[np.ndarray], dict[str, np.ndarray]]] = {
    "musicnn": musicnn_features,
    "handcrafted": handcrafted_features,
}


def available_feature_sets(wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(usable, notes)``: the feature sets of ``wanted`` that can be computed here, and one line for each
    left out (the hand-crafted set needs librosa)."""
    usable, notes = [], []
    for feature_set in wanted:
        if feature_set == "handcrafted" and importlib.util.find_spec("librosa") is None:
            notes.append(
                "hand-crafted rows skipped: librosa is not installed (it comes with the peers extra: "
                "uv pip install -e '.[peers]')"
            )
        else:
            usable.append(feature_set)
    return usable, notes


def clip_features(clip: Clip, feature_set: str, cache: Path) -> dict[str, np.ndarray]:
    """The features of ``feature_set`` for ``clip``, from ``cache`` when computed before."""
    path = cache / feature_set / f"{clip.key.replace('/', '_')}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return dict(stored)
    features = EXTRACTORS[feature_set](load_audio(clip.audio_path, SAMPLE_RATE))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, **features)
    temporary.replace(path)
    return features


def feature_matrices(
    clips: Sequence[Clip], feature_sets: Sequence[str], cache: Path, progress: Callable[[str, int], None] | None = None
) -> dict[str, np.ndarray]:
    """``{row key: (n_clips, d)}`` for every row of :data:`ROWS` whose feature set is in ``feature_sets``."""
    stacked: dict[str, np.ndarray] = {}
    for feature_set in feature_sets:
        per_clip = []
        for n, clip in enumerate(clips, start=1):
            per_clip.append(clip_features(clip, feature_set, cache))
            if progress is not None:
                progress(feature_set, n)
        for key, (row_set, _) in ROWS.items():
            if row_set == feature_set:
                stacked[key] = np.stack([features[key] for features in per_clip])
    return stacked


# ------------------------------------------------------------------------------------ regressions


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """Multinomial logistic regression with an L2 penalty ``|W|^2 / (2 C n)`` on standardised ``x (n, d)``,
    classes ``y (n,)`` in ``0..n_classes-1``; returns a function giving the predicted classes of new rows."""
    mean, std = x.mean(0), x.std(0) + 1e-8
    inputs = torch.from_numpy((x - mean) / std)
    targets = torch.from_numpy(y.astype(np.int64))
    weight = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(inputs @ weight + bias, targets)
        value = value + weight.pow(2).sum() / (2 * c * len(y))
        value.backward()
        return value

    optimiser.step(loss)
    weight_, bias_ = weight.detach().numpy(), bias.detach().numpy()
    return lambda new: np.argmax(((new - mean) / std) @ weight_ + bias_, axis=1)


def fit_with_cv(
    x: np.ndarray, y: np.ndarray, clips: Sequence[Clip], n_classes: int, seed: int = 0
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """:func:`fit_logistic` with ``C`` from :data:`C_GRID` chosen by the mean accuracy of an inner
    :data:`INNER_FOLDS`-fold cross-validation grouped by ``clips``' groups (``x``, ``y`` are those clips')."""
    fold_of = np.array(group_folds(clips, INNER_FOLDS, seed))

    def score(c: float) -> float:
        accuracies = []
        for fold in range(INNER_FOLDS):
            held = fold_of == fold
            accuracies.append(float((fit_logistic(x[~held], y[~held], n_classes, c)(x[held]) == y[held]).mean()))
        return float(np.mean(accuracies))

    best = max(C_GRID, key=score)
    return fit_logistic(x, y, n_classes, best), best


def baseline_predictions(
    x: np.ndarray, clips: Sequence[Clip], train: np.ndarray, seed: int = 0
) -> dict[str, np.ndarray]:
    """Fit the three regressions on the rows ``train`` (boolean ``(n,)``) of ``x`` and predict the others.

    Returns:
        ``{"high": (m, 2) bool, "quadrant": (m,) int 1..4, "C": (3,)}`` for the ``m`` held-out rows in
        order: valence and arousal high/low from their own regressions, the quadrant from the 4-class one,
        and the ``C`` each regression chose.
    """
    fitted = [clip for clip, kept in zip(clips, train, strict=True) if kept]
    targets = np.array([(clip.valence, clip.arousal) for clip in fitted])
    high, chosen = [], []
    for column in (0, 1):
        predict, c = fit_with_cv(x[train], (targets[:, column] > 0).astype(int), fitted, 2, seed)
        high.append(predict(x[~train]) == 1)
        chosen.append(c)
    predict, c = fit_with_cv(x[train], quadrant_of(targets[:, 0], targets[:, 1]) - 1, fitted, 4, seed)
    return {"high": np.stack(high, axis=1), "quadrant": predict(x[~train]) + 1, "C": np.array([*chosen, c])}
