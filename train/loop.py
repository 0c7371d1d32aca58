"""The training loop: from a recipe to a model bundle.

One step: the process's share of the step's crops (:class:`train.data.StepBatches`) goes through the student once
(labelled and unlabelled crops together); the loss is the supervised terms (:mod:`train.losses`), plus PCL's
pseudo-label and view-consistency terms (:mod:`train.pcl`), plus SAML's contrastive and anchoring terms
(:mod:`train.saml`), plus musicnn's distillation and probe terms (:mod:`train.distill`); AdamW steps with the
learning rate of :func:`learning_rate` (linear warm-up, then cosine decay), the gradient norm clipped; then the EMA
teacher and the SAML memory are updated. On CUDA the forward passes run under autocast (``optim.amp``), with loss
scaling for float16.

Reproducibility: the initial weights come from ``seed``; the crops of step ``s`` from ``(seed, s)``; before
each step torch's generators (dropout) are re-seeded from ``(seed, s, rank)``. Every random draw therefore
depends on the step number only, and the random state at a checkpoint is its step: resuming gives the same
numbers as an uninterrupted run (bitwise on the CPU).

Files in the output folder (only the first process writes):

- ``checkpoint.pt``: everything needed to resume (model, optimiser, schedule, loss scaler, EMA teacher,
  SAML memory and anchors, the step, best score, patience count, history, the recipe), written every
  ``checkpoint_every`` steps and at the end, atomically (a temporary file renamed over the old one: the file
  on disk is always a whole checkpoint). Loaded with ``torch.load(weights_only=True)``.
- ``best.safetensors``: weights of the best model so far by the validation score (atomically replaced).
- ``history.json``: validation reports by step.
- ``model.safetensors``: the exported bundle (best weights, or the last ones without validation) with a
  model card filled from the run (:func:`train.export.model_card`).
- ``recipe.yaml``: the recipe as run; ``metrics.json``: the best model's validation report;
  ``test_metrics.json``: the exported model's report on the test clips (``data.test``), when there are any.

A second run with the same output folder resumes from ``checkpoint.pt``; its recipe must be the same, except for
:data:`RUNTIME_KEYS` (cache folder, loader processes, threads), which cannot change the numbers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from damer_core.atomic import write_atomically
from damer_core.bundle import save_bundle
from damer_core.config import to_mapping
from damer_core.errors import ConfigError
from damer_core.model import DamerModel
from train.data import Corpus, StepBatches, crop_frames, input_stats, read_corpus
from train.distill import Distiller
from train.distributed import Processes, barrier, close_distributed, gather_rows, init_distributed, share
from train.evaluate import evaluate_clips, score_of, strict_json
from train.export import model_card
from train.losses import supervised_loss
from train.pcl import PCL
from train.recipe import OptimConfig, TrainRecipe
from train.saml import SAML, crop_classes, crop_embeddings

CHECKPOINT_FORMAT = "damer-train-checkpoint"
CHECKPOINT_VERSION = 1
BUNDLE_NAME = "model.safetensors"
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.safetensors"
_SEED_MIX = 0x9E3779B1
RUNTIME_KEYS = ("cache_dir", "workers", "threads", "feature_workers")


def learning_rate(step: int, total_steps: int, optim: OptimConfig) -> float:
    """Learning rate of step ``step`` (0-based): ``lr * (step + 1) / warmup_steps`` during warm-up, then
    ``lr`` (constant) or ``lr * (m + (1 - m) * (1 + cos(pi * t)) / 2)`` with ``t`` going from 0 after warm-up
    to 1 at the last step and ``m = min_lr_ratio``."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    decay_steps = max(1, total_steps - optim.warmup_steps - 1)
    t = min(1.0, (step - optim.warmup_steps) / decay_steps)
    return optim.lr * (optim.min_lr_ratio + (1.0 - optim.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t)))


def total_steps(recipe: TrainRecipe, corpus: Corpus) -> int:
    """``optim.steps``, or ``ceil(epochs * labelled training clips / batch_size)``."""
    optim = recipe.optim
    if optim.steps is not None:
        return optim.steps
    n_clips = sum(pool.clips.size for pool in corpus.labelled)
    return max(1, math.ceil(optim.epochs * n_clips / optim.batch_size))


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of torch's generators for ``step`` in process ``rank``."""
    return (seed * _SEED_MIX + step * 1_000_003 + rank * 7919) % (2**63 - 1)


def parameter_groups(model: DamerModel, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: the ``weight`` of linear and convolution layers decays; biases, normalisation gains and
    other tables (e.g. attention distance biases) do not."""
    decay, no_decay = [], []
    for module in model.modules():
        is_norm = "norm" in type(module).__name__.lower()
        for name, parameter in module.named_parameters(recurse=False):
            (decay if name == "weight" and not is_norm and parameter.ndim >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Learner:
    """The model and everything that learns with it: EMA teacher (PCL), memory and anchors (SAML), optimiser,
    schedule, loss scaler; :meth:`step` runs one training step. Built from a recipe by the loop and by
    ``bench/train_step.py``.

    Args:
        recipe: the recipe.
        model: the student, already on ``processes.device`` with its input statistics set.
        n_styles: style ids for SAML's anchors (sources, or clips when ``saml.anchor_by == "track"``).
        n_steps: steps of the run (the schedule's length).
        processes: where this process stands; with several, the model is wrapped in DDP.
        musicnn_stats: ``(mean, std)`` of the musicnn view over the training frames; needed with distillation.
    """

    def __init__(
        self,
        recipe: TrainRecipe,
        model: DamerModel,
        n_styles: int,
        n_steps: int,
        processes: Processes,
        musicnn_stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        device = processes.device
        self.recipe, self.model, self.processes = recipe, model, processes
        self.pcl = PCL(recipe.pcl, model).to(device) if recipe.pcl.enabled else None
        self.saml = SAML(recipe.saml, n_styles, recipe.model.embed_dim).to(device) if recipe.saml.enabled else None
        self.distiller = None
        groups = parameter_groups(model, recipe.optim.weight_decay)
        if recipe.distill.enabled:
            if musicnn_stats is None:
                raise ConfigError("distill: needs the musicnn view's statistics (features.musicnn)")
            # Built after the PCL teacher was copied from the student, so the teacher carries no hooks.
            self.distiller = Distiller(recipe.distill, model, *musicnn_stats).to(device)
            groups.append({"params": list(self.distiller.parameters()), "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(
            groups,
            lr=recipe.optim.lr,
            betas=tuple(recipe.optim.betas),
            eps=recipe.optim.eps,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate(step, n_steps, recipe.optim) / recipe.optim.lr
        )
        use_amp = device.type == "cuda" and recipe.optim.amp != "off"
        self.amp_dtype = (torch.float16 if recipe.optim.amp == "fp16" else torch.bfloat16) if use_amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_amp and recipe.optim.amp == "fp16")
        self.trained: torch.nn.Module = model
        if processes.distributed:
            # Parameters without a gradient in some step (the embedding head without SAML, or before SAML starts;
            # the view heads without a loss on them) need DDP's search for unused parameters.
            views_used = recipe.losses.view_weight > 0 or (self.pcl is not None and recipe.pcl.js_weight > 0)
            needs_all = self.saml is not None and recipe.saml.start_step == 0 and views_used
            self.trained = DistributedDataParallel(
                model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=not needs_all,
            )

    def state_dict(self) -> dict[str, Any]:
        """Everything that changes while training (for checkpoints)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "pcl": self.pcl.state_dict() if self.pcl is not None else {},
            "saml": self.saml.state_dict() if self.saml is not None else {},
            "distill": self.distiller.state_dict() if self.distiller is not None else {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.pcl is not None:
            self.pcl.load_state_dict(state["pcl"])
        if self.saml is not None:
            self.saml.load_state_dict(state["saml"])
        if self.distiller is not None:
            self.distiller.load_state_dict(state["distill"])

    def step(self, batch: dict[str, dict[str, torch.Tensor]], step: int) -> dict[str, float]:
        """One optimiser step on this process's ``labelled`` and ``unlabelled`` crops (see
        :func:`train.data.assemble_batch`) at step number ``step``; returns the loss parts."""
        recipe, device = self.recipe, self.processes.device
        pcl, saml, distiller = self.pcl, self.saml, self.distiller
        labelled, unlabelled = batch["labelled"], batch["unlabelled"]
        n_labelled = labelled["mel"].shape[0]
        joined = {key: torch.cat((labelled[key], unlabelled[key])).to(device, non_blocking=True) for key in labelled}
        valid, target = joined["valid"], joined["target"]
        confidence = joined["confidence"] if recipe.losses.use_confidence else torch.ones_like(joined["confidence"])
        token_weight = valid.float() * confidence.unsqueeze(1)
        musicnn = joined["musicnn"] if "musicnn" in self.model.views else None
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            output = self.trained(joined["mel"], joined["coch"], musicnn)
            loss, parts = supervised_loss(output, target, token_weight, recipe.losses)
            if distiller is not None:
                distill_loss, distill_parts = distiller.loss(
                    output, joined["musicnn"], target, token_weight, valid, step
                )
                loss = loss + distill_loss
                parts.update(distill_parts)
            if pcl is not None:
                labels = None
                candidates = torch.isnan(target) & valid.unsqueeze(-1)
                if pcl.active(step) and bool(candidates.any()):
                    labels = pcl.label(joined["mel"], joined["coch"], candidates, step, musicnn)
                pcl_loss, pcl_parts = pcl.loss(output, labels, valid)
                loss = loss + pcl_loss
                parts.update(pcl_parts)
            if saml is not None:
                embeddings = crop_embeddings(output.embedding[:n_labelled], valid[:n_labelled])
                classes = crop_classes(target[:n_labelled], valid[:n_labelled])
                tracks = joined["track"][:n_labelled]
                styles = joined["source"][:n_labelled] if recipe.saml.anchor_by == "source" else tracks
                if step >= recipe.saml.start_step:
                    saml_loss, saml_parts = saml.loss(embeddings, classes, tracks)
                    loss = loss + saml_loss
                    parts.update(saml_parts)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if recipe.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), recipe.optim.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if pcl is not None:
            pcl.update_teacher(self.model)
        if saml is not None:
            saml.update(*gather_rows(self.processes, embeddings.detach(), classes, tracks, styles))
        parts["loss"] = float(loss.detach())
        parts["lr"] = self.optimizer.param_groups[0]["lr"]
        return parts


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        bundle: path of the exported bundle.
        steps: steps done (at the end of the run).
        total_steps: steps the recipe asked for.
        best_step: step of the exported weights.
        best_score: their validation score (``None`` without validation).
        report: their validation report (empty without validation).
        stopped_early: whether early stopping ended the run.
        seconds: training time over all sessions of the run (resumes included).
        history: validation reports by step.
        test_report: the exported model's report on the test clips (``None`` without a test split).
    """

    bundle: Path
    steps: int
    total_steps: int
    best_step: int
    best_score: float | None
    report: dict[str, Any]
    stopped_early: bool
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    test_report: dict[str, Any] | None = None


class _Averages:
    """Running means of loss parts since the last reset; ``saved`` (from :meth:`to_state`) resumes them."""

    def __init__(self, saved: dict[str, dict[str, float]] | None = None) -> None:
        self.sums: dict[str, float] = defaultdict(float, (saved or {}).get("sums", {}))
        self.counts: dict[str, int] = defaultdict(int, (saved or {}).get("counts", {}))

    def to_state(self) -> dict[str, dict[str, float]]:
        """The sums and counts as plain JSON-able dicts, for checkpoints."""
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def add(self, parts: dict[str, float]) -> None:
        for key, value in parts.items():
            self.sums[key] += value
            self.counts[key] += 1

    def means(self) -> dict[str, float]:
        return {key: self.sums[key] / self.counts[key] for key in self.sums}


class Trainer:
    """One training run of ``recipe`` into ``out_dir`` (see the module docstring).

    Args:
        recipe: the recipe.
        out_dir: output folder (created).
        progress: show a progress bar (first process only).
        restart: ignore an existing checkpoint instead of resuming from it.
        card_extra: entries added to the exported bundle's model card (e.g. the recipe's cross-validation).
    """

    def __init__(
        self,
        recipe: TrainRecipe,
        out_dir: str | Path,
        progress: bool = True,
        restart: bool = False,
        card_extra: dict[str, Any] | None = None,
    ) -> None:
        self.recipe = recipe
        self.out = Path(out_dir)
        self.show_progress = progress
        self.restart = restart
        self.card_extra = dict(card_extra or {})

    def run(self, stop_at: int | None = None) -> TrainResult:
        """Train (resuming if a checkpoint exists), validate, export; returns the result.

        Args:
            stop_at: leave the loop before this step without writing anything more (as if the process were
                killed there); the next run resumes from the last checkpoint. For tests of resumption.

        Raises:
            ConfigError, DatasetError, AudioError, DeviceError: bad recipe, data or device.
        """
        if self.recipe.threads > 0:
            torch.set_num_threads(self.recipe.threads)
        processes = init_distributed(self.recipe.model.device)
        try:
            return self._run(processes, stop_at)
        finally:
            close_distributed(processes)

    # -- set-up -----------------------------------------------------------------------------------------

    def _prepare_data(self, processes: Processes) -> Corpus:
        corpus = read_corpus(self.recipe)
        indices = list(range(len(corpus.clips)))
        if processes.is_main:
            bar = tqdm(desc="features", unit="clip", disable=not self.show_progress, leave=False)

            def report(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            corpus.store.prepare(indices, self.recipe.feature_workers, report)
            bar.close()
        barrier(processes)
        if not processes.is_main:
            corpus.store.prepare(indices)
        return corpus

    def _build_model(self, corpus: Corpus) -> tuple[DamerModel, tuple[np.ndarray, np.ndarray] | None]:
        """The seeded initial model with its input statistics, and the musicnn view's statistics (``None``
        without that view). A model that does not read the musicnn view gets (and its bundle records) the
        spec without it, so the live front-end does not compute it for nothing."""
        recipe = self.recipe
        reads_musicnn = "musicnn" in recipe.model.views
        spec = recipe.features if reads_musicnn else dataclasses.replace(recipe.features, musicnn=None)
        torch.manual_seed(recipe.seed)
        model = DamerModel(recipe.model, spec)
        stats = input_stats(corpus.store, corpus.training_indices(), recipe.stats_clips, recipe.seed)
        musicnn = stats.get("musicnn")
        model.set_input_stats(*stats["mel"], *stats["cochleagram"], *(musicnn if reads_musicnn else (None, None)))
        return model, musicnn

    def _run(self, processes: Processes, stop_at: int | None) -> TrainResult:
        recipe = self.recipe
        device = processes.device
        if processes.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        corpus = self._prepare_data(processes)
        n_steps = total_steps(recipe, corpus)
        model, musicnn_stats = self._build_model(corpus)
        model = model.to(device)
        n_styles = len(recipe.data.sources) if recipe.saml.anchor_by == "source" else len(corpus.clips)
        learner = Learner(recipe, model, n_styles, n_steps, processes, musicnn_stats)
        state = self._load_checkpoint(learner, device)
        start = state["step"]
        unlabelled_batch = recipe.pcl.unlabelled_batch_size if recipe.pcl.enabled and corpus.unlabelled else 0
        length = crop_frames(recipe.features, recipe.optim.crop_seconds, recipe.model.frames_per_token)
        dataset = StepBatches(
            corpus,
            recipe.seed,
            n_steps,
            recipe.optim.batch_size,
            unlabelled_batch,
            length,
            recipe.model.frames_per_token,
            processes.rank,
            processes.world,
        )
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            sampler=range(start, n_steps),
            num_workers=recipe.workers,
            pin_memory=device.type == "cuda",
            worker_init_fn=_one_thread if recipe.workers > 0 else None,
        )
        bar = tqdm(
            total=n_steps,
            initial=start,
            desc="train",
            unit="step",
            disable=not (self.show_progress and processes.is_main),
        )
        averages = _Averages(state.get("losses_since_validation"))
        stopped_early = False
        session_start = time.monotonic()
        step = start
        batches: Iterator = iter(loader)
        model.train()
        while step < n_steps:
            if stop_at is not None and step >= stop_at:
                bar.close()
                return self._result(state, step, n_steps, stopped_early=False)
            batch = next(batches)
            torch.manual_seed(step_seed(recipe.seed, step, processes.rank))
            parts = learner.step(batch, step)
            averages.add(parts)
            step += 1
            bar.update(1)
            final = step == n_steps
            if recipe.data.validation.source is not None and (step % recipe.eval_every == 0 or final):
                stopped_early = self._validate(model, corpus, state, step, averages.means(), processes)
                averages = _Averages()
                model.train()
            bar.set_postfix(self._postfix(parts, state), refresh=False)
            if step % recipe.checkpoint_every == 0 or final or stopped_early:
                state["elapsed_s"] += time.monotonic() - session_start
                session_start = time.monotonic()
                state["step"] = step
                state["losses_since_validation"] = averages.to_state()
                if processes.is_main:
                    self._save_checkpoint(state, learner)
            if stopped_early:
                break
        bar.close()
        state["step"] = step
        state["elapsed_s"] += time.monotonic() - session_start
        if processes.is_main:
            self._export(model, corpus, state, processes, stopped_early, n_steps, learner)
        barrier(processes)
        return self._result(state, step, n_steps, stopped_early)

    # -- validation, checkpoints, export ----------------------------------------------------------------

    def _validate(
        self,
        model: DamerModel,
        corpus: Corpus,
        state: dict[str, Any],
        step: int,
        losses: dict[str, float],
        processes: Processes,
    ) -> bool:
        """Validate on the first process, share the score; update best/patience; returns "stop now"."""
        stopping = self.recipe.early_stopping
        report = None
        if processes.is_main:
            model.eval()
            clips = [corpus.clips[i] for i in corpus.validation]
            report = evaluate_clips(model, clips, lambda i: corpus.store.features(int(corpus.validation[i])))
        score = share(processes, None if report is None else score_of(report, stopping.metric))
        best = state["best_score"]
        sign = 1.0 if stopping.higher_is_better else -1.0
        improved = not math.isnan(score) and (best is None or sign * (score - best) > stopping.min_delta)
        if improved:
            state["best_score"], state["best_step"], state["bad_evals"] = score, step, 0
        else:
            state["bad_evals"] += 1
        if processes.is_main:
            state["history"].append(strict_json({"step": step, "score": score, "losses": losses, "report": report}))
            if improved:
                state["best_report"] = strict_json(report)
                tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
                write_atomically(self.out / BEST_NAME, lambda handle: handle.write(safetensors.torch.save(tensors)))
            text = json.dumps(state["history"], indent=1, allow_nan=False)
            write_atomically(self.out / "history.json", lambda handle: handle.write(text.encode("utf-8")))
        return stopping.patience > 0 and state["bad_evals"] >= stopping.patience

    def _postfix(self, parts: dict[str, float], state: dict[str, Any]) -> dict[str, str]:
        postfix = {"loss": f"{parts['loss']:.4f}"}
        if state["history"]:
            last = state["history"][-1]
            postfix[self.recipe.early_stopping.metric] = "n/a" if last["score"] is None else f"{last['score']:.3f}"
            report = last["report"] or {}
            for dimension in ("valence", "arousal"):
                accuracy = report.get(dimension, {}).get("accuracy")
                postfix[dimension[0] + "_acc"] = "n/a" if accuracy is None else f"{accuracy:.3f}"
        return postfix

    def _fresh_state(self) -> dict[str, Any]:
        return {
            "step": 0,
            "best_score": None,
            "best_step": 0,
            "best_report": {},
            "bad_evals": 0,
            "history": [],
            "elapsed_s": 0.0,
            "losses_since_validation": _Averages().to_state(),
        }

    def _recipe_json(self) -> str:
        """The recipe as checkpoints record it: without the settings that cannot change the numbers (where
        the cache is, how many processes and threads load data and compute), so a run can resume elsewhere."""
        mapping = to_mapping(self.recipe)
        for key in RUNTIME_KEYS:
            mapping.pop(key)
        return json.dumps(mapping, sort_keys=True)

    def _load_checkpoint(self, learner: Learner, device: torch.device) -> dict[str, Any]:
        path = self.out / CHECKPOINT_NAME
        if self.restart or not path.is_file():
            return self._fresh_state()
        try:
            checkpoint = torch.load(path, map_location=device, weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise ConfigError(f"{path}: cannot read the checkpoint ({exc}); use --restart to start over") from None
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path}: not a damer training checkpoint")
        if checkpoint["recipe"] != self._recipe_json():
            raise ConfigError(
                f"{path}: the checkpoint was written by a different recipe; use another --out folder or --restart"
            )
        learner.load_state_dict(checkpoint["learner"])
        return json.loads(checkpoint["state"])

    def _save_checkpoint(self, state: dict[str, Any], learner: Learner) -> None:
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "recipe": self._recipe_json(),
            "state": json.dumps(state, allow_nan=False),
            "learner": learner.state_dict(),
        }
        write_atomically(self.out / CHECKPOINT_NAME, lambda handle: torch.save(checkpoint, handle))

    def _export(
        self,
        model: DamerModel,
        corpus: Corpus,
        state: dict[str, Any],
        processes: Processes,
        stopped_early: bool,
        n_steps: int,
        learner: Learner,
    ) -> None:
        best = self.out / BEST_NAME
        if self.recipe.data.validation.source is not None and best.is_file():
            model.load_state_dict(safetensors.torch.load_file(str(best), device=str(processes.device)))
        else:
            state["best_step"] = state["step"]
            if learner.pcl is not None and self.recipe.pcl.export_teacher:
                model.load_state_dict(learner.pcl.teacher.state_dict())
        test_report = None
        if corpus.test.size:
            model.eval()
            test_clips = [corpus.clips[i] for i in corpus.test]
            test_report = strict_json(
                evaluate_clips(model, test_clips, lambda i: corpus.store.features(int(corpus.test[i])))
            )
            text = json.dumps(test_report, indent=1, allow_nan=False)
            write_atomically(self.out / "test_metrics.json", lambda handle: handle.write(text.encode("utf-8")))
            state["test_report"] = test_report
        card = model_card(self.recipe, corpus, state, processes, stopped_early, n_steps, test_report) | self.card_extra
        save_bundle(self.out / BUNDLE_NAME, model, card)
        recipe_text = yaml.safe_dump(to_mapping(self.recipe), sort_keys=False)
        write_atomically(self.out / "recipe.yaml", lambda handle: handle.write(recipe_text.encode("utf-8")))
        metrics = json.dumps(state["best_report"], indent=1, allow_nan=False)
        write_atomically(self.out / "metrics.json", lambda handle: handle.write(metrics.encode("utf-8")))

    def _result(self, state: dict[str, Any], step: int, n_steps: int, stopped_early: bool) -> TrainResult:
        return TrainResult(
            bundle=self.out / BUNDLE_NAME,
            steps=step,
            total_steps=n_steps,
            best_step=state["best_step"],
            best_score=state["best_score"],
            report=state["best_report"],
            stopped_early=stopped_early,
            seconds=state["elapsed_s"],
            history=state["history"],
            test_report=state.get("test_report"),
        )


def _one_thread(_worker: int) -> None:
    torch.set_num_threads(1)


def train(
    recipe: TrainRecipe,
    out_dir: str | Path,
    progress: bool = True,
    restart: bool = False,
    card_extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Run ``recipe`` into ``out_dir`` (see :class:`Trainer`)."""
    return Trainer(recipe, out_dir, progress, restart, card_extra).run()
