"""The model card written into a trained bundle: where the model came from and how good it is.

Keys (all JSON; ``save_bundle`` adds ``created`` and ``code_version``):

- ``training_data``: one line, e.g. ``"4q: 540 labelled clips (4.50 h); music: 74 unlabelled clips (3.6 h)"``;
- ``data``: per source name, reader kind, role, path, training and validation clips and hours, licence;
- ``notices``: usage restrictions that follow from the data (4Q: research use only);
- ``metrics``: ``validation`` (the exported weights' clip-level report, :mod:`train.evaluate`), ``score``
  (the early-stopping metric and its value), ``step`` (when those weights were saved), and ``test`` (the
  report on the test clips, scored once at export) when the recipe holds some out;
- ``modules``: which of DSAF, PCL, SAML and musicnn distillation were on, and the views;
- ``training``: steps done and planned, whether early stopping ended the run, training seconds, processes,
  device, machine, torch version, seed;
- ``recipe``: the whole recipe.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from damer_core.config import to_mapping
from train.data import Corpus
from train.distributed import Processes
from train.recipe import TrainRecipe


def describe_device(device: torch.device) -> str:
    """``"cpu"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3)"``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def training_data_line(rows: list[dict[str, Any]]) -> str:
    """The one-line summary of :meth:`Corpus.summary` rows."""
    parts = []
    for row in rows:
        text = f"{row['name']}: {row['train_clips']} {row['role']} clips ({row['train_hours']:.2f} h)"
        if row["validation_clips"]:
            text += f" + {row['validation_clips']} validation clips ({row['validation_hours']:.2f} h)"
        parts.append(text)
    return "; ".join(parts)


def model_card(
    recipe: TrainRecipe,
    corpus: Corpus,
    state: dict[str, Any],
    processes: Processes,
    stopped_early: bool,
    n_steps: int,
    test_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card of a finished run (see the module docstring).

    Args:
        recipe: the recipe.
        corpus: the run's data.
        state: the loop's state (``step``, ``best_step``, ``best_score``, ``best_report``, ``elapsed_s``).
        processes: the processes that trained.
        stopped_early: whether early stopping ended the run.
        n_steps: steps the recipe asked for.
        test_report: the exported model's report on the test clips, if any.
    """
    rows = corpus.summary()
    notices = [f"{row['name']}: {row['licence']}" for row in rows if row["kind"] == "4q"]
    if recipe.features.source != "audio":
        notices.append(
            f"trained on precomputed {recipe.features.source!r} features: the live engine cannot feed this model"
        )
    model = recipe.model
    if recipe.features.musicnn is not None:
        if recipe.features.musicnn.encoder == "student":
            role = "through its causal student (musicnn_student.safetensors), distilled from it; musicnn is not run"
        else:
            role = "as a view" if "musicnn" in model.views else "as a teacher during training only"
        notices.append(
            "uses MSD_musicnn (Pons & Serra 2019, ISC licence, weights shipped in damer_core/models with their "
            f"licence): {role}"
        )
    several = len(model.views) >= 2
    return {
        "training_data": training_data_line(rows),
        "data": rows,
        "notices": notices,
        "metrics": {
            "validation": state["best_report"],
            "score": {"metric": recipe.early_stopping.metric, "value": state["best_score"]},
            "step": state["best_step"],
            **({} if test_report is None else {"test": test_report}),
        },
        "modules": {
            "views": list(model.views),
            "dsaf": model.fusion == "dsaf" and several and model.dsaf_blocks > 0,
            "fusion": model.fusion if several else "single view",
            "pcl": recipe.pcl.enabled,
            "saml": recipe.saml.enabled,
            "musicnn_distillation": recipe.distill.enabled,
        },
        "training": {
            "steps": state["step"],
            "planned_steps": n_steps,
            "stopped_early": stopped_early,
            "seconds": round(state["elapsed_s"], 1),
            "processes": processes.world,
            "device": describe_device(processes.device),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
            "torch": torch.__version__,
            "seed": recipe.seed,
        },
        "recipe": to_mapping(recipe),
    }
