"""The student's weights file: safetensors tensors plus its :class:`StudentConfig` as JSON metadata.

Loading never unpickles; the file's SHA-256 must be the one a feature spec names, so a model always runs
with the student it was trained on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from damer_core.atomic import atomic_path
from damer_core.errors import BundleError
from damer_core.shipped import MODELS_DIR
from damer_core.student.network import MusicnnStudent, StudentConfig

FORMAT = "damer-musicnn-student"
SHIPPED_NAME = "musicnn_student.safetensors"


def shipped_student_path() -> Path:
    """Where the shipped student's weights live: ``damer_core/models/musicnn_student.safetensors``."""
    return MODELS_DIR / SHIPPED_NAME


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Raises:
        BundleError: the file cannot be read.
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise BundleError(f"cannot read student weights {path} ({exc.strerror or exc})") from None


def save_student(path: Path, student: MusicnnStudent, card: dict[str, Any]) -> str:
    """Write ``student`` (float32) with its config and ``card`` (how it was trained) atomically; returns the
    file's SHA-256, the value a feature spec's ``musicnn.student_sha256`` names."""
    tensors = {
        name: value.detach().to("cpu", torch.float32).contiguous() for name, value in student.state_dict().items()
    }
    config = dataclasses.asdict(student.config)
    metadata = {
        "format": FORMAT,
        "config": json.dumps(config, sort_keys=True),
        "card": json.dumps(card, sort_keys=True),
    }
    with atomic_path(path) as temporary:
        safetensors.torch.save_file(tensors, str(temporary), metadata=metadata)
    return file_sha256(path)


def load_student(path: Path, sha256: str | None = None) -> tuple[MusicnnStudent, dict[str, Any]]:
    """The student stored at ``path`` (eval mode, CPU) and its card.

    Raises:
        BundleError: unreadable, not a student file, damaged, or not the file ``sha256`` names.
    """
    if sha256 is not None and file_sha256(path) != sha256:
        raise BundleError(
            f"student weights {path} are not the ones the model was trained with (SHA-256 {sha256[:12]}... expected)"
        )
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
    except (OSError, safetensors.SafetensorError) as exc:
        raise BundleError(f"cannot read student weights {path} ({exc})") from None
    if metadata.get("format") != FORMAT:
        raise BundleError(f"{path}: not a musicnn student weights file")
    raw = json.loads(metadata["config"])
    config = StudentConfig(**{**raw, "dilations": tuple(raw["dilations"])})
    student = MusicnnStudent(config)
    try:
        student.load_state_dict(tensors)
    except RuntimeError as exc:
        raise BundleError(f"{path}: tensors do not fit the recorded student config ({exc})") from None
    return student.eval(), json.loads(metadata.get("card", "{}"))
