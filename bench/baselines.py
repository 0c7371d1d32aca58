"""Baselines on a training recipe's held-out clips: logistic regression on frozen clip-level features.

The clips are those of the recipe's test split (else its validation split), split from their source
exactly as training does (:func:`train.data.split_source`); the regressions train on all the other clips of
that source (the model's training and validation clips), so the baselines see no less than the model. Feature sets:

- ``musicnn``: the frozen MSD_musicnn port (:mod:`damer_core.musicnn`) on non-overlapping 3 s patches of
  the clip, as musicnn's own extractor cuts them (its log-Mel from the clip at 22050 Hz); the 200-value
  penultimate embedding pooled over patches by mean and max (400 values) — "frozen musicnn + logistic
  regression", the number a trained model has to beat — and, as a stronger row, the mean over patches of the
  max- and mean-pooled mid-end (1506 values);
- ``handcrafted`` (needs librosa, in the ``peers`` extra): clip statistics of hand-crafted features — log-Mel
  (64 bands), MFCC (20) and their deltas, chroma, spectral contrast, centroid, bandwidth, roll-off,
  flatness, zero-crossing rate, RMS (mean and standard deviation over frames), onset strength (mean, std,
  max) and tempo — and the spectral centroid's mean and std alone.

Every regression standardises its features (training-clip statistics) and is L2-regularised; its inverse
strength ``C`` is chosen from :data:`C_GRID` by 5-fold cross-validation grouped by artist (or track group)
on the training clips. Valence and arousal are high/low regressions; the quadrant is a 4-class
(multinomial) regression. Reported: high/low accuracy and F1 per dimension, 4-quadrant accuracy and
macro-F1 (:mod:`train.metrics`). Features are cached per clip under ``--cache``.

Usage: ``python -m bench.baselines RECIPE [--features musicnn handcrafted] [--json PATH]``, from the
directory the recipe's paths are relative to (the repository root for ``configs/train/default.yaml``).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from bench.report import machine_line, write_json
from damer_core.errors import ConfigError, DamerError
from damer_core.features.musicnn_mel import musicnn_log_mel
from damer_core.musicnn import PATCH_FRAMES, load_musicnn
from train.audio import load_audio
from train.data import split_source
from train.datasets import Clip, read_dataset
from train.metrics import binary_accuracy, binary_f1, macro_f1, quadrant_of
from train.recipe import load_recipe

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
SAMPLE_RATE = 22050
FEATURE_SETS = ("musicnn", "handcrafted")


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

ROWS: dict[str, tuple[str, str]] = {
    "penultimate": ("musicnn", "frozen MSD_musicnn penultimate, mean+max over 3 s patches (400) + LR"),
    "pools": ("musicnn", "frozen MSD_musicnn mid-end pools, mean over patches (1506) + LR"),
    "handcrafted": ("handcrafted", "hand-crafted clip statistics (librosa, 232) + LR"),
    "centroid": ("handcrafted", "spectral centroid mean and std (2) + LR"),
}


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


def group_folds(groups: Sequence[str], folds: int = FOLDS, seed: int = 0) -> list[np.ndarray]:
    """Fold index of each item ``(n,)``: whole groups to a fold, in a seeded random order."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: rank % folds for rank, i in enumerate(order)}
    index = np.array([fold_of[g] for g in groups])
    return [index == fold for fold in range(folds)]


def fit_with_cv(x: np.ndarray, y: np.ndarray, groups: Sequence[str], n_classes: int) -> tuple[Callable, float]:
    """:func:`fit_logistic` with ``C`` from :data:`C_GRID` by grouped cross-validation accuracy."""
    folds = group_folds(groups)

    def score(c: float) -> float:
        return float(np.mean([(fit_logistic(x[~f], y[~f], n_classes, c)(x[f]) == y[f]).mean() for f in folds]))

    best = max(C_GRID, key=score)
    return fit_logistic(x, y, n_classes, best), best


def baseline_row(train_x: np.ndarray, test_x: np.ndarray, train: list[Clip], test: list[Clip]) -> dict:
    """High/low valence and arousal and quadrant regressions on one feature set, scored on ``test``."""
    groups = [clip.group for clip in train]
    targets = {
        split: np.array([(c.valence, c.arousal) for c in clips]) for split, clips in (("train", train), ("test", test))
    }
    row: dict = {}
    for column, dimension in enumerate(("valence", "arousal")):
        high = (targets["train"][:, column] > 0).astype(int)
        predict, c = fit_with_cv(train_x, high, groups, 2)
        predicted, wanted = predict(test_x) == 1, targets["test"][:, column] > 0
        row[dimension] = {"accuracy": binary_accuracy(wanted, predicted), "f1": binary_f1(wanted, predicted), "C": c}
    quadrants = {split: quadrant_of(t[:, 0], t[:, 1]) - 1 for split, t in targets.items()}
    predict, c = fit_with_cv(train_x, quadrants["train"], groups, 4)
    predicted = predict(test_x)
    row["quadrant"] = {
        "accuracy": float((predicted == quadrants["test"]).mean()),
        "macro_f1": macro_f1(quadrants["test"] + 1, predicted + 1),
        "C": c,
    }
    return row


# ------------------------------------------------------------------------------------------- main


def held_out_clips(recipe_path: Path) -> tuple[list[Clip], list[Clip], str]:
    """The clips of the recipe's test (else validation) source not held out, those held out, and the split's name."""
    recipe = load_recipe(recipe_path)
    split = "test" if recipe.data.test.source is not None else "validation"
    name = getattr(recipe.data, split).source
    if name is None:
        raise ConfigError(f"{recipe_path}: the recipe holds out no clips (data.test / data.validation)")
    source = next(s for s in recipe.data.sources if s.name == name)
    clips = read_dataset(source.kind, source.resolved_path(), **source.options)
    held_out = {clip.key for clip in split_source(source, clips, recipe.data)[1][split]}
    # The regressions may learn from every clip the model could (its training and validation clips).
    return (
        [c for c in clips if c.key not in held_out],
        [c for c in clips if c.key in held_out],
        f"{split} split of {name!r}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="training recipe whose held-out clips are scored")
    parser.add_argument("--features", nargs="+", choices=FEATURE_SETS, default=list(FEATURE_SETS))
    parser.add_argument("--cache", type=Path, default=Path(".cache/damer-baselines"), help="per-clip feature cache")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    feature_sets = list(args.features)
    if "handcrafted" in feature_sets and importlib.util.find_spec("librosa") is None:
        print("hand-crafted rows skipped: librosa is not installed (it comes with the peers extra: "
              "uv pip install -e '.[peers]')")  # fmt: skip
        feature_sets.remove("handcrafted")
    try:
        train, test, split = held_out_clips(args.recipe)
    except DamerError as exc:
        parser.error(str(exc))
    features: dict[str, list[dict[str, np.ndarray]]] = {}
    for feature_set in feature_sets:
        features[feature_set] = []
        for n, clip in enumerate(train + test):
            features[feature_set].append(clip_features(clip, feature_set, args.cache))
            print(f"\r{feature_set} features: {n + 1}/{len(train) + len(test)}", end="", flush=True)
        print()
    results = {}
    for key, (feature_set, title) in ROWS.items():
        if feature_set in features:
            x = np.stack([f[key] for f in features[feature_set]])
            results[title] = baseline_row(x[: len(train)], x[len(train) :], train, test)
    print(
        f"{len(test)} clips of the {split} ({len(train)} training clips); accuracy / F1, quadrant accuracy / macro-F1"
    )
    print(f"{'baseline':<72}{'valence':>14}{'arousal':>14}{'quadrant':>14}")
    for title, row in results.items():
        cells = [f"{row[d]['accuracy']:.3f}/{row[d]['f1']:.3f}" for d in ("valence", "arousal")]
        cells.append(f"{row['quadrant']['accuracy']:.3f}/{row['quadrant']['macro_f1']:.3f}")
        print(f"{title:<72}" + "".join(f"{cell:>14}" for cell in cells))
    print(f"machine: {machine_line()}")
    write_json(args.json, {"split": split, "test_clips": len(test), "train_clips": len(train), "rows": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
