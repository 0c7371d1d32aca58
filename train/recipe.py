"""The training recipe: one YAML file describing a whole training run, loaded into frozen dataclasses.

Load with :func:`load_recipe` (``damer_core.config.load_config`` underneath: unknown keys, wrong types and
out-of-range values are a :class:`~damer_core.errors.ConfigError` naming the file and dotted key). Relative
dataset paths (``data.sources[*].path``) are taken from the **data root**: ``--data-root DIR`` of the
commands, else the environment variable ``DAMER_DATA``, else ``data`` in the current working directory;
``cache_dir`` is taken from the current working directory.

Sections (every value has a default except ``data.sources``; ``configs/train/*.yaml`` show them all):

- ``features``: the :class:`FeatureSpec` of the front-end (``source: memo2496`` for Memo2496's arrays).
- ``model``: the :class:`ModelConfig`.
- ``data``: ``sources`` (reader ``kind``, ``path``, ``options`` passed to the reader, ``role`` labelled or
  unlabelled, sampling ``weight``, ``name``) and ``validation`` (a labelled source split by group).
- ``optim``: AdamW, warm-up + cosine schedule, steps (or epochs), batch size, crop length, clipping, AMP.
- ``losses``: weights of the supervised terms.
- ``pcl``: progressive confidence labelling (see :mod:`train.pcl`).
- ``saml``: style-anchored memory learning (see :mod:`train.saml`).
- ``distill``: musicnn as a teacher (see :mod:`train.distill`).
- ``early_stopping``, ``checkpoint_every``, ``eval_every``, ``seed``, ``cache_dir``, ``cache_dtype``,
  ``workers``, ``threads``, ``feature_workers``, ``stats_clips``.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from damer_core.config import load_config
from damer_core.errors import ConfigError
from damer_core.model import ModelConfig
from damer_core.spec import FeatureSpec, require
from damer_core.student.weights import file_sha256, shipped_student_path
from train.datasets import READERS

Curve = Literal["linear", "cosine"]
Role = Literal["labelled", "unlabelled"]
SCORE_DIMENSIONS = ("valence", "arousal", "mean", "quadrant")
SCORE_METRICS = ("accuracy", "f1", "auc", "ccc", "pearson", "r2", "rmse", "macro_f1")
LOWER_IS_BETTER = ("rmse",)


@dataclass(frozen=True)
class SourceConfig:
    """One dataset read by one reader.

    Attributes:
        kind: reader name, a key of :data:`train.datasets.READERS` (``memo2496``, ``deam``, ``pmemo``,
            ``emomusic``, ``4q``, ``csv``, ``folder``).
        path: the dataset folder (for ``csv``: the table file).
        name: how the recipe refers to the source (validation, model card); default: ``kind``.
        role: ``labelled`` (supervised crops) or ``unlabelled`` (crops for pseudo-labelling only; any labels
            the reader gives are ignored).
        weight: relative probability of drawing a crop from this source among the sources of its role.
        options: keyword arguments of the reader (e.g. ``dynamic: false``, ``source: synthetic``).
    """

    kind: str
    path: str
    name: str = ""
    role: Role = "labelled"
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.kind in READERS, "kind", f"one of {', '.join(READERS)}", self.kind)
        require(bool(self.path), "path", "a non-empty path", self.path)
        try:
            inspect.signature(READERS[self.kind]).bind(self.path, **self.options)
        except TypeError as exc:
            raise ConfigError(f"options: not accepted by the {self.kind!r} reader ({exc})") from None
        require(self.role in ("labelled", "unlabelled"), "role", "'labelled' or 'unlabelled'", self.role)
        require(self.weight > 0 and math.isfinite(self.weight), "weight", "> 0", self.weight)
        if not self.name:
            object.__setattr__(self, "name", self.kind)

    def resolved_path(self) -> Path:
        """``path`` with ``~`` expanded (:func:`load_recipe` has already put relative paths under the data
        root)."""
        return Path(self.path).expanduser()


@dataclass(frozen=True)
class ValidationConfig:
    """Held-out clips for validation, early stopping and the model card's metrics.

    Attributes:
        source: name of a labelled source to split; ``null`` for no validation (the last model is exported).
        fraction: share of that source's clips held out, split by group (artist, or track) with
            :func:`train.datasets.group_split`, stratified by quadrant; ``1`` holds out the whole source
            (e.g. train on synthetic music, validate on 4Q).
        seed: seed of the split.
        folds, fold: with ``folds >= 2``, the held-out clips are fold ``fold`` of a ``folds``-fold partition
            of the source by group (:func:`train.datasets.group_folds`, stratified by quadrant, seeded by
            ``seed``) instead of a ``fraction``: how ``damer cv`` holds out each fold in turn.
    """

    source: str | None = None
    fraction: float = 0.2
    seed: int = 0
    folds: int = 0
    fold: int = 0

    def __post_init__(self) -> None:
        require(0.0 < self.fraction <= 1.0, "fraction", "in (0, 1]", self.fraction)
        require(self.folds == 0 or self.folds >= 2, "folds", "0 (a fraction) or >= 2", self.folds)
        require(0 <= self.fold < max(1, self.folds), "fold", f"in 0..{max(1, self.folds) - 1}", self.fold)


@dataclass(frozen=True)
class DataConfig:
    """Training data: the sources, the test split and the validation split.

    Attributes:
        sources: the datasets.
        test: clips of a labelled source held out from everything (training, validation, early stopping)
            and scored once, on the exported model (the model card's ``metrics.test``); split first, by
            group (:func:`train.datasets.group_split` with its ``fraction`` and ``seed``).
        validation: clips held out for validation and early stopping; when it names the test's source it
            splits the clips left after the test split.
    """

    sources: tuple[SourceConfig, ...] = ()
    test: ValidationConfig = field(default_factory=ValidationConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    def __post_init__(self) -> None:
        names = [source.name for source in self.sources]
        require(len(set(names)) == len(names), "sources", "sources with distinct names", names)
        require(any(s.role == "labelled" for s in self.sources), "sources", "at least one labelled source", names)
        labelled = [s.name for s in self.sources if s.role == "labelled"]
        for key, split in (("validation", self.validation), ("test", self.test)):
            if split.source is not None:
                require(
                    split.source in labelled,
                    f"{key}.source",
                    f"the name of a labelled source ({', '.join(labelled)})",
                    split.source,
                )


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and batches.

    Attributes:
        lr: peak learning rate of AdamW.
        weight_decay: AdamW decoupled weight decay, applied to matrices only (not to biases, norms, tables).
        betas: AdamW ``(beta1, beta2)``.
        eps: AdamW epsilon.
        steps: optimiser steps of the whole run; exactly one of ``steps`` and ``epochs`` is set.
        epochs: run length in passes over the labelled training clips: ``steps = ceil(epochs * n_clips /
            batch_size)``.
        warmup_steps: linear warm-up from 0 to ``lr``.
        schedule: after warm-up, ``cosine`` decay to ``min_lr_ratio * lr`` at the last step, or ``constant``.
        min_lr_ratio: floor of the cosine schedule as a fraction of ``lr``.
        batch_size: labelled crops per step, over all processes (each of ``N`` processes takes
            ``batch_size / N``, which must be whole).
        crop_seconds: crop length; shorter clips are used whole and padded (padding is masked out).
        grad_clip: maximum global gradient norm; 0 = no clipping.
        amp: mixed precision on CUDA: ``bf16``, ``fp16`` (with loss scaling) or ``off``; the CPU always
            trains in float32.
    """

    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, ...] = (0.9, 0.98)
    eps: float = 1e-8
    steps: int | None = 20000
    epochs: float | None = None
    warmup_steps: int = 500
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.05
    batch_size: int = 16
    crop_seconds: float = 10.0
    grad_clip: float = 1.0
    amp: Literal["off", "bf16", "fp16"] = "bf16"

    def __post_init__(self) -> None:
        require(self.lr > 0, "lr", "> 0", self.lr)
        require(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        require(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", "two values in [0, 1)", self.betas
        )
        require(self.eps > 0, "eps", "> 0", self.eps)
        require(
            (self.steps is None) != (self.epochs is None), "steps", "set unless epochs is set (one of them)", self.steps
        )
        require(self.steps is None or self.steps >= 1, "steps", ">= 1", self.steps)
        require(self.epochs is None or self.epochs > 0, "epochs", "> 0", self.epochs)
        require(self.warmup_steps >= 0, "warmup_steps", ">= 0", self.warmup_steps)
        require(self.schedule in ("cosine", "constant"), "schedule", "'cosine' or 'constant'", self.schedule)
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]", self.min_lr_ratio)
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        require(self.crop_seconds > 0, "crop_seconds", "> 0", self.crop_seconds)
        require(self.grad_clip >= 0, "grad_clip", ">= 0", self.grad_clip)
        require(self.amp in ("off", "bf16", "fp16"), "amp", "'off', 'bf16' or 'fp16'", self.amp)


@dataclass(frozen=True)
class LossConfig:
    """Weights of the supervised losses (see :mod:`train.losses`).

    Attributes:
        ccc_weight: weight of ``1 - CCC`` of the valence/arousal estimates (per dimension, over the batch's
            labelled tokens, averaged over the two dimensions).
        mse_weight: weight of the mean squared error of the estimates.
        bce_weight: weight of the binary cross-entropy of the high/low logits (target: label > 0).
        view_weight: each per-view head (Mel-only, cochleagram-only) gets the same three terms times this.
        use_confidence: weight each crop's supervised terms by its clip's label confidence (4Q: PQuad).
    """

    ccc_weight: float = 1.0
    mse_weight: float = 1.0
    bce_weight: float = 0.5
    view_weight: float = 0.3
    use_confidence: bool = True

    def __post_init__(self) -> None:
        for name in ("ccc_weight", "mse_weight", "bce_weight", "view_weight"):
            require(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))


@dataclass(frozen=True)
class PCLConfig:
    """Progressive confidence labelling (:mod:`train.pcl`).

    Curriculum progress is ``s = clip((step - start_step) / ramp_steps, 0, 1)``; a scheduled value moves from
    its ``_start`` to its ``_end`` value as ``f(s)`` with ``f(s) = s`` (linear) or ``(1 - cos(pi s)) / 2``
    (cosine).

    Attributes:
        enabled: switch of the whole module (teacher, pseudo-labels, view-consistency loss).
        unlabelled_batch_size: unlabelled crops per step over all processes (0: pseudo-label only the
            unlabelled tokens and dimensions of labelled crops).
        ema_decay: teacher weights ``<- ema_decay * teacher + (1 - ema_decay) * student`` after every step.
        start_step: first step that uses pseudo-labels (the teacher is updated from step 0).
        ramp_steps: length of the curriculum after ``start_step``.
        threshold_start, threshold_end, threshold_curve: a pseudo-label counts when its confidence
            ``|2p - 1|`` (``p`` = the teacher's temperature-sharpened p(high)) is ``>=`` the threshold.
        temperature_start, temperature_end, temperature_curve: ``p = sigmoid(logit / T)``.
        js_gate: a pseudo-label is rejected when the Jensen-Shannon divergence (nats, at most ln 2) between
            the teacher's Mel-only and cochleagram-only p(high) of that dimension exceeds this.
        pseudo_weight: weight of the BCE of the student's logits against accepted soft pseudo-labels.
        pseudo_va_weight: weight of the MSE of the student's estimates against the teacher's, on the
            accepted entries.
        js_weight: weight of the student's view-consistency loss (mean JS divergence between its Mel-only
            and cochleagram-only p(high) over all valid tokens).
        export_teacher: export the teacher — the moving average of the student's weights over the last
            ``~1 / (1 - ema_decay)`` steps — instead of the last student (when no validation split picks a
            step): averaged weights generalise better than those of any single step.
    """

    enabled: bool = True
    unlabelled_batch_size: int = 8
    ema_decay: float = 0.999
    start_step: int = 2000
    ramp_steps: int = 10000
    threshold_start: float = 0.9
    threshold_end: float = 0.6
    threshold_curve: Curve = "cosine"
    temperature_start: float = 1.0
    temperature_end: float = 0.5
    temperature_curve: Curve = "linear"
    js_gate: float = 0.05
    pseudo_weight: float = 0.5
    pseudo_va_weight: float = 0.5
    js_weight: float = 0.1
    export_teacher: bool = False

    def __post_init__(self) -> None:
        require(self.unlabelled_batch_size >= 0, "unlabelled_batch_size", ">= 0", self.unlabelled_batch_size)
        require(0.0 <= self.ema_decay < 1.0, "ema_decay", "in [0, 1)", self.ema_decay)
        require(self.start_step >= 0, "start_step", ">= 0", self.start_step)
        require(self.ramp_steps >= 1, "ramp_steps", ">= 1", self.ramp_steps)
        for name in ("threshold_start", "threshold_end"):
            require(0.0 <= getattr(self, name) <= 1.0, name, "in [0, 1]", getattr(self, name))
        for name in ("temperature_start", "temperature_end"):
            require(getattr(self, name) > 0, name, "> 0", getattr(self, name))
        for name in ("threshold_curve", "temperature_curve"):
            require(getattr(self, name) in ("linear", "cosine"), name, "'linear' or 'cosine'", getattr(self, name))
        require(self.js_gate >= 0, "js_gate", ">= 0", self.js_gate)
        for name in ("pseudo_weight", "pseudo_va_weight", "js_weight"):
            require(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))


@dataclass(frozen=True)
class SAMLConfig:
    """Style-anchored memory learning (:mod:`train.saml`).

    Attributes:
        enabled: switch of the whole module.
        queue_size: crop embeddings kept in the memory queue (FIFO).
        temperature: temperature of the supervised contrastive loss.
        anchor_by: the style of a crop for its anchors: its ``source`` (dataset) or its ``track``.
        anchor_momentum: style prototypes ``<- normalise(m * prototype + (1 - m) * batch mean)``.
        anchor_temperature: temperature of the anchoring loss (a softmax over emotion anchors).
        contrastive_weight: weight of the contrastive loss.
        anchor_weight: weight of the anchoring loss.
        start_step: first step that adds the SAML losses (the queue and anchors fill from step 0).
    """

    enabled: bool = True
    queue_size: int = 4096
    temperature: float = 0.1
    anchor_by: Literal["source", "track"] = "source"
    anchor_momentum: float = 0.9
    anchor_temperature: float = 0.1
    contrastive_weight: float = 0.1
    anchor_weight: float = 0.1
    start_step: int = 0

    def __post_init__(self) -> None:
        require(self.queue_size >= 1, "queue_size", ">= 1", self.queue_size)
        require(self.temperature > 0, "temperature", "> 0", self.temperature)
        require(self.anchor_by in ("source", "track"), "anchor_by", "'source' or 'track'", self.anchor_by)
        require(0.0 <= self.anchor_momentum < 1.0, "anchor_momentum", "in [0, 1)", self.anchor_momentum)
        require(self.anchor_temperature > 0, "anchor_temperature", "> 0", self.anchor_temperature)
        for name in ("contrastive_weight", "anchor_weight"):
            require(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))
        require(self.start_step >= 0, "start_step", ">= 0", self.start_step)


@dataclass(frozen=True)
class DistillConfig:
    """musicnn as a teacher (:mod:`train.distill`); needs the musicnn view in ``features``.

    Attributes:
        enabled: switch of the whole module.
        weight: weight of the squared error between a linear map of the fused token stream (the input of the
            emotion head) and the standardised musicnn embedding of the token, mean over valid tokens and
            embedding values.
        view_weight: the same for the windowed tokens of each view other than musicnn (the input of its
            per-view head), summed over those views.
        probe_weight: weight of the binary cross-entropy of a linear probe on the standardised musicnn view
            against the high/low labels; the probe's input is detached, so this trains the probe alone.
        probe_pseudo_weight: weight of the binary cross-entropy of the student's fused logits against the
            probe's p(high) on unlabelled entries whose probe confidence ``|2p - 1|`` is at least
            ``probe_threshold`` (musicnn as a source of pseudo-labels).
        probe_threshold: that confidence threshold.
        probe_start_step: first step that uses the probe's pseudo-labels.
    """

    enabled: bool = False
    weight: float = 1.0
    view_weight: float = 0.5
    probe_weight: float = 0.5
    probe_pseudo_weight: float = 0.5
    probe_threshold: float = 0.6
    probe_start_step: int = 500

    def __post_init__(self) -> None:
        for name in ("weight", "view_weight", "probe_weight", "probe_pseudo_weight"):
            require(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))
        require(0.0 <= self.probe_threshold <= 1.0, "probe_threshold", "in [0, 1]", self.probe_threshold)
        require(self.probe_start_step >= 0, "probe_start_step", ">= 0", self.probe_start_step)


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Which validation score picks the best model, and when to stop.

    Attributes:
        metric: ``"<dimension>.<metric>"`` with dimension ``valence``, ``arousal``, ``mean`` (of the two) or
            ``quadrant`` and metric ``accuracy``, ``f1``, ``auc``, ``ccc``, ``pearson``, ``r2``, ``rmse``
            (lower is better) or, for ``quadrant``, ``accuracy``/``macro_f1``; on whole validation clips.
        patience: stop after this many evaluations without improvement; 0 = never stop early.
        min_delta: an improvement must exceed this.
    """

    metric: str = "mean.accuracy"
    patience: int = 10
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        dimension, _, metric = self.metric.partition(".")
        allowed = ("accuracy", "macro_f1") if dimension == "quadrant" else SCORE_METRICS[:-1]
        require(
            dimension in SCORE_DIMENSIONS and metric in allowed,
            "metric",
            "'<valence|arousal|mean>.<accuracy|f1|auc|ccc|pearson|r2|rmse>' or 'quadrant.<accuracy|macro_f1>'",
            self.metric,
        )
        require(self.patience >= 0, "patience", ">= 0", self.patience)
        require(self.min_delta >= 0, "min_delta", ">= 0", self.min_delta)

    @property
    def higher_is_better(self) -> bool:
        """False for error metrics (RMSE)."""
        return self.metric.partition(".")[2] not in LOWER_IS_BETTER


@dataclass(frozen=True)
class TrainRecipe:
    """A whole training run.

    Attributes:
        features: front-end spec the model reads.
        model: model hyper-parameters.
        data: sources and validation.
        optim: optimiser and batches.
        losses: supervised loss weights.
        pcl: progressive confidence labelling.
        saml: style-anchored memory learning.
        distill: musicnn as a teacher (distillation and probe pseudo-labels).
        early_stopping: best-model score and patience.
        checkpoint_every: write the resumable checkpoint every this many steps (and at the end).
        eval_every: validate every this many steps (and at the end).
        seed: seed of the initial weights, crop sampling and dropout.
        cache_dir: feature cache folder (shared by runs; keyed by spec and audio content).
        cache_dtype: storage dtype of the cache, ``float32`` or ``float16``.
        workers: data-loading processes per training process (0: load in the training process).
        threads: torch intra-op threads per training process; 0 = PyTorch's default (one per core). On a
            shared CPU, 1 is often fastest.
        feature_workers: processes computing missing cache entries before training.
        stats_clips: training clips (seeded sample) whose frames give the input normalisation; 0 = all.
    """

    data: DataConfig
    features: FeatureSpec = field(default_factory=FeatureSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    pcl: PCLConfig = field(default_factory=PCLConfig)
    saml: SAMLConfig = field(default_factory=SAMLConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    checkpoint_every: int = 500
    eval_every: int = 500
    seed: int = 0
    cache_dir: str = ".cache/damer-features"
    cache_dtype: Literal["float32", "float16"] = "float32"
    workers: int = 2
    threads: int = 0
    feature_workers: int = 1
    stats_clips: int = 300

    def __post_init__(self) -> None:
        require(self.checkpoint_every >= 1, "checkpoint_every", ">= 1", self.checkpoint_every)
        require(self.eval_every >= 1, "eval_every", ">= 1", self.eval_every)
        require(self.cache_dtype in ("float32", "float16"), "cache_dtype", "'float32' or 'float16'", self.cache_dtype)
        require(self.workers >= 0, "workers", ">= 0", self.workers)
        require(self.threads >= 0, "threads", ">= 0", self.threads)
        require(self.feature_workers >= 1, "feature_workers", ">= 1", self.feature_workers)
        require(self.stats_clips >= 0, "stats_clips", ">= 0", self.stats_clips)
        if self.distill.enabled or "musicnn" in self.model.views:
            require(
                self.features.musicnn is not None,
                "features.musicnn",
                "set when model.views reads 'musicnn' or distill is enabled",
                None,
            )


DATA_ROOT_VARIABLE = "DAMER_DATA"
"""The environment variable naming the data root when ``--data-root`` is not given."""


def data_root(given: str | Path | None = None) -> Path:
    """The folder relative dataset paths are taken from: ``given``, else ``$DAMER_DATA``, else ``data``."""
    if given is not None:
        return Path(given).expanduser()
    return Path(os.environ.get(DATA_ROOT_VARIABLE) or "data").expanduser()


def with_shipped_student(spec: FeatureSpec) -> FeatureSpec:
    """``spec`` with an empty ``musicnn.student_sha256`` (a student view) filled in with the SHA-256 of the
    student shipped in ``damer_core/models/``.

    Raises:
        BundleError: the student view is asked for but no student weights are there.
    """
    view = spec.musicnn
    if view is None or view.encoder != "student" or view.student_sha256:
        return spec
    return replace(spec, musicnn=replace(view, student_sha256=file_sha256(shipped_student_path())))


def load_recipe(path: str | Path, root: str | Path | None = None) -> TrainRecipe:
    """Read a training recipe from YAML; relative ``data.sources[*].path`` are put under
    :func:`data_root` ``(root)``.

    Raises:
        ConfigError: missing file, malformed YAML, unknown key, wrong type or out-of-range value.
    """
    recipe = load_config(path, TrainRecipe)
    recipe = replace(recipe, features=with_shipped_student(recipe.features))
    base = data_root(root)
    sources = tuple(
        source if Path(source.path).expanduser().is_absolute() else replace(source, path=str(base / source.path))
        for source in recipe.data.sources
    )
    return replace(recipe, data=replace(recipe.data, sources=sources))
