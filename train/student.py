"""Distillation of musicnn into :class:`~damer_core.student.network.MusicnnStudent`: ``damer student``.

A student recipe (YAML, :class:`StudentRecipe`; ``configs/train/student.yaml``) names audio sources (any
readers of :mod:`train.datasets`; labels are ignored), the teacher's view (a feature spec with the musicnn
view, as cached for training), the student's shape and the optimisation. Targets: the teacher's view
``lead_s`` seconds *later* than the student's frame — with the ``aligned`` teacher (1.17 s late) and
``lead_s: 1.168`` that is musicnn's embedding of the 3 s ending at the student's frame, so the student
learns the window ending *now*, not the one musicnn can only give 1.17 s afterwards.

Training: crops of ``crop_seconds`` drawn at random (clips weighted by length) from the training clips;
the loss (mean squared error of the standardised 200 values) counts the frames whose whole reach lies in
the crop (or whose past is the clip's true start) and whose target exists; AdamW, warm-up then cosine.
A fraction of the groups (tracks, or artists) of every source is held out for the fidelity report
(cosine similarity and R² of the student's embedding against the teacher's on music it never heard).
The student's weights go to ``OUT/student.safetensors`` with a card of its data, steps and fidelity.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from damer_core.atomic import write_atomically
from damer_core.config import load_config
from damer_core.errors import ConfigError
from damer_core.spec import FeatureSpec, MusicnnViewSpec, require
from damer_core.student.network import MusicnnStudent, StudentConfig
from damer_core.student.weights import save_student
from train.data import FeatureStore, read_source
from train.datasets import Clip, group_split
from train.recipe import SourceConfig, data_root

TEACHER = FeatureSpec(musicnn=MusicnnViewSpec(variant="aligned"))


@dataclass(frozen=True)
class StudentOptim:
    """Optimisation of the student: AdamW, linear warm-up then cosine decay to ``min_lr_ratio * lr``."""

    steps: int = 3000
    batch_size: int = 16
    crop_seconds: float = 8.0
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        require(self.steps >= 1, "steps", ">= 1", self.steps)
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        require(self.crop_seconds > 0, "crop_seconds", "> 0", self.crop_seconds)
        require(self.lr > 0, "lr", "> 0", self.lr)


@dataclass(frozen=True)
class StudentRecipe:
    """Everything a distillation run reads (see the module docstring).

    Attributes:
        sources: the audio (labels ignored; relative paths under the data root, as training recipes).
        teacher: the feature spec whose musicnn view is the teacher (its log-Mel is the student's input).
        student: the student's shape.
        lead_s: how much later than the student's frame the teacher's view is read (seconds).
        held_out: share of each source's groups kept for the fidelity report.
        optim: the optimisation.
        seed: seed of the split, the crops and the initial weights.
        cache_dir: the feature cache (shared with training runs of the same spec).
        threads: torch intra-op threads.
        feature_workers: processes computing missing cache entries.
    """

    sources: tuple[SourceConfig, ...] = ()
    teacher: FeatureSpec = TEACHER
    student: StudentConfig = field(default_factory=StudentConfig)
    lead_s: float = 1.168
    held_out: float = 0.1
    optim: StudentOptim = field(default_factory=StudentOptim)
    seed: int = 0
    cache_dir: str = ".cache/damer-features"
    threads: int = 2
    feature_workers: int = 2

    def __post_init__(self) -> None:
        require(bool(self.sources), "sources", "at least one source", self.sources)
        require(self.teacher.musicnn is not None, "teacher.musicnn", "a musicnn view (the teacher)", None)
        require(
            self.student.n_mels == self.teacher.mel.n_mels, "student.n_mels", "teacher.mel.n_mels", self.student.n_mels
        )
        require(0.0 <= self.lead_s < 10.0, "lead_s", "in [0, 10) seconds", self.lead_s)
        require(0.0 < self.held_out < 1.0, "held_out", "in (0, 1)", self.held_out)


def load_student_recipe(path: str | Path, root: str | Path | None = None) -> StudentRecipe:
    """Read a student recipe; relative source paths go under :func:`train.recipe.data_root` ``(root)``.

    Raises:
        ConfigError: missing file, malformed YAML, unknown key, wrong type or out-of-range value.
    """
    recipe = load_config(path, StudentRecipe)
    base = data_root(root)
    sources = tuple(
        s if Path(s.path).expanduser().is_absolute() else dataclasses.replace(s, path=str(base / s.path))
        for s in recipe.sources
    )
    return dataclasses.replace(recipe, sources=sources)


# ------------------------------------------------------------------------------------------- data


@dataclass
class Audio:
    """The student's inputs and targets for every clip, in memory (float16), and the split."""

    mel: list[np.ndarray]
    teacher: list[np.ndarray]
    train: np.ndarray
    held_out: np.ndarray
    clips: list[Clip]


def read_audio(recipe: StudentRecipe, progress: Callable[[int, int], None] | None = None) -> Audio:
    """Read every source, hold out ``held_out`` of each one's groups, compute or load the cached views."""
    clips: list[Clip] = []
    held: list[bool] = []
    for source in recipe.sources:
        members = read_source(source)  # labels, where a source has them, serve the report's probe only
        if not members:
            raise ConfigError(f"{source.path}: source {source.name!r} holds no clips")
        kept, out = group_split(members, recipe.held_out, recipe.seed, stratum=lambda clip: None)
        out_keys = {clip.key for clip in out}
        clips += members
        held += [clip.key in out_keys for clip in members]
    store = FeatureStore(clips, recipe.teacher, recipe.cache_dir, "float16")
    store.prepare(range(len(clips)), recipe.feature_workers, progress)
    mel, teacher = [], []
    for index in range(len(clips)):
        features = store.features(index)
        assert features.musicnn is not None
        mel.append(features.mel.astype(np.float16))
        teacher.append(features.musicnn.astype(np.float16))
    flags = np.array(held)
    return Audio(mel, teacher, np.flatnonzero(~flags), np.flatnonzero(flags), clips)


def target_stats(audio: Audio, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension mean and std (float64) of the mel input and the teacher over the clips ``indices``."""
    stats = {}
    for name, arrays in (("mel", audio.mel), ("teacher", audio.teacher)):
        total = squares = 0.0
        count = 0
        for i in indices:  # clip by clip: all the frames at once in float64 would take gigabytes
            x = arrays[i].astype(np.float64)
            total, squares, count = total + x.sum(0), squares + (x * x).sum(0), count + x.shape[0]
        mean = total / count
        stats[f"{name}_mean"] = mean
        stats[f"{name}_std"] = np.maximum(np.sqrt(np.maximum(squares / count - mean * mean, 0.0)), 1e-4)
    return stats


def draw_batch(
    audio: Audio, rng: np.random.Generator, batch: int, length: int, lead: int, reach: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``batch`` crops of ``length`` frames: ``(mel (B, L, n_mels), target (B, L, size), mask (B, L))``."""
    lengths = np.array([audio.mel[i].shape[0] for i in audio.train], dtype=np.float64)
    chosen = rng.choice(audio.train, size=batch, p=lengths / lengths.sum())
    mel, target, mask = [], [], []
    for index in chosen:
        n = audio.mel[index].shape[0]
        start = int(rng.integers(max(1, n - length + 1)))
        stop = min(n, start + length)
        crop = np.zeros((length, audio.mel[index].shape[1]), dtype=np.float32)
        crop[: stop - start] = audio.mel[index][start:stop]
        wanted = np.zeros((length, audio.teacher[index].shape[1]), dtype=np.float32)
        valid = np.zeros(length, dtype=bool)
        frames = np.arange(start, stop)
        exists = frames + lead < n
        wanted[: stop - start][exists] = audio.teacher[index][frames[exists] + lead]
        warm = (frames - start >= reach - 1) | (start == 0)
        valid[: stop - start] = exists & warm
        mel.append(crop)
        target.append(wanted)
        mask.append(valid)
    return torch.from_numpy(np.stack(mel)), torch.from_numpy(np.stack(target)), torch.from_numpy(np.stack(mask))


# --------------------------------------------------------------------------------------- training


def learning_rate(optim: StudentOptim, step: int) -> float:
    """Warm-up then cosine, as a multiple of ``optim.lr``."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    progress = (step - optim.warmup_steps) / max(1, optim.steps - optim.warmup_steps)
    return optim.lr * (optim.min_lr_ratio + (1 - optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def fidelity(
    student: MusicnnStudent, audio: Audio, indices: Sequence[int], lead: int, stats: dict[str, np.ndarray]
) -> dict[str, float]:
    """On the clips ``indices``, whole clips streamed from their start: mean cosine similarity of the
    student's and the teacher's embeddings per frame, and R² of the student over all standardised values."""
    cosines, residual, total = [], 0.0, 0.0
    with torch.inference_mode():
        for index in indices:
            n = audio.mel[index].shape[0] - lead
            if n <= 0:
                continue
            predicted = student(torch.from_numpy(audio.mel[index].astype(np.float32))[None])[0, :n].double().numpy()
            wanted = audio.teacher[index][lead:].astype(np.float64)
            norms = np.linalg.norm(predicted, axis=1) * np.linalg.norm(wanted, axis=1)
            cosines.append(np.sum(predicted * wanted, axis=1) / np.maximum(norms, 1e-12))
            scaled_p = (predicted - stats["teacher_mean"]) / stats["teacher_std"]
            scaled_w = (wanted - stats["teacher_mean"]) / stats["teacher_std"]
            residual += float(np.sum((scaled_p - scaled_w) ** 2))
            total += float(np.sum(scaled_w**2))
    return {"cosine": float(np.concatenate(cosines).mean()), "r2": 1.0 - residual / total}


def train_student(
    recipe: StudentRecipe, out: Path, say: Callable[[str], None] = print, every: int = 100
) -> dict[str, Any]:
    """Distil the teacher into a student as ``recipe`` says; write ``out/student.safetensors`` and
    ``out/student.json``; return the card."""
    torch.set_num_threads(recipe.threads)
    started = time.monotonic()
    audio = read_audio(recipe)
    frame_rate = recipe.teacher.frame_rate
    lead = round(recipe.lead_s * frame_rate)
    length = round(recipe.optim.crop_seconds * frame_rate)
    stats = target_stats(audio, audio.train)
    torch.manual_seed(recipe.seed)
    student = MusicnnStudent(recipe.student)
    student.set_input_stats(torch.from_numpy(stats["mel_mean"]).float(), torch.from_numpy(stats["mel_std"]).float())
    target_mean = torch.from_numpy(stats["teacher_mean"]).float()
    target_std = torch.from_numpy(stats["teacher_std"]).float()
    optimiser = torch.optim.AdamW(student.parameters(), lr=recipe.optim.lr, weight_decay=recipe.optim.weight_decay)
    rng = np.random.default_rng(recipe.seed)
    history = []
    running = 0.0
    for step in range(recipe.optim.steps):
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(recipe.optim, step)
        mel, target, mask = draw_batch(audio, rng, recipe.optim.batch_size, length, lead, recipe.student.reach)
        predicted = student(mel)
        error = ((predicted - target_mean) / target_std - (target - target_mean) / target_std) ** 2
        loss = error.mean(-1)[mask].mean()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), recipe.optim.grad_clip)
        optimiser.step()
        running += float(loss.detach())
        if (step + 1) % every == 0 or step + 1 == recipe.optim.steps:
            history.append({"step": step + 1, "loss": running / ((step % every) + 1)})
            elapsed = time.monotonic() - started
            say(f"step {step + 1}/{recipe.optim.steps}: loss {history[-1]['loss']:.4f} ({elapsed:.0f} s)")
            running = 0.0
    student.eval()
    card = {
        "teacher": recipe.teacher.to_dict()["musicnn"],
        "lead_s": lead / frame_rate,
        "sources": [{"name": s.name, "kind": s.kind} for s in recipe.sources],
        "train_clips": int(audio.train.size),
        "train_hours": float(sum(audio.mel[i].shape[0] for i in audio.train) / frame_rate / 3600),
        "held_out_clips": int(audio.held_out.size),
        "held_out": fidelity(student, audio, audio.held_out, lead, stats),
        "steps": recipe.optim.steps,
        "seconds": time.monotonic() - started,
        "history": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    card["sha256"] = save_student(out / "student.safetensors", student, card)
    text = json.dumps(card, indent=1)
    write_atomically(out / "student.json", lambda handle: handle.write(text.encode("utf-8")))
    return card
