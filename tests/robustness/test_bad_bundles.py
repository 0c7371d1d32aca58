"""Damaged and hostile model bundles through ``damer analyze --model`` and ``damer stream --model``, and a
hostile training checkpoint through ``damer train``: each refused on one line naming the problem, nothing
of it executed (the pickles would create a marker file if they were ever unpickled), nothing analysed."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import soundfile
import torch

from damer_core.bundle import weights_checksum
from damer_core.cli import main
from damer_core.spec import FeatureSpec
from tests.robustness.corpus import RATE, good_audio


class _Payload:
    """Unpickling this runs ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safetensors.safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()


def _rewritten(edit: Callable[[dict[str, torch.Tensor], dict[str, str]], None]) -> Callable[[Path, Path], None]:
    """A bundle re-saved after ``edit(tensors, metadata)`` (a well-formed safetensors file)."""

    def write(good: Path, path: Path) -> None:
        tensors, metadata = _read(good)
        edit(tensors, metadata)
        safetensors.torch.save_file(tensors, str(path), metadata=metadata)

    return write


def _alter_spec(tensors: dict, metadata: dict) -> None:
    spec = json.loads(metadata["feature_spec"])
    spec["hop"] = 512
    metadata["feature_spec"] = json.dumps(spec)


def _wrong_shape(tensors: dict, metadata: dict) -> None:
    name = next(name for name, tensor in sorted(tensors.items()) if tensor.ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, tensors[name].shape[1])
    metadata["weights_sha256"] = weights_checksum(tensors)  # a consistent file: only the shape is wrong


def _precomputed_features(tensors: dict, metadata: dict) -> None:
    spec = json.loads(metadata["feature_spec"])
    spec["source"] = "memo2496"
    metadata["feature_spec"] = json.dumps(spec)
    metadata["feature_spec_hash"] = FeatureSpec.from_dict(spec).hash()


def _flip(offset_from_end: int | None, offset: int | None = None) -> Callable[[Path, Path], None]:
    def write(good: Path, path: Path) -> None:
        data = bytearray(good.read_bytes())
        data[offset if offset is not None else len(data) - offset_from_end] ^= 0x04
        path.write_bytes(bytes(data))

    return write


def _pickle(marker: Path) -> Callable[[Path, Path], None]:
    def write(good: Path, path: Path) -> None:
        torch.save({"weights": torch.zeros(3), "hook": _Payload(f"touch {marker}")}, str(path))

    return write


def _cases(marker: Path) -> dict[str, tuple[Callable[[Path, Path], None], str]]:
    """File name -> (how to make it from a good bundle, the reason its error must give)."""
    return {
        "truncated.safetensors": (
            lambda g, p: p.write_bytes(g.read_bytes()[: g.stat().st_size // 2]),
            "corrupt or truncated",
        ),
        "header_cut.safetensors": (lambda g, p: p.write_bytes(g.read_bytes()[:5]), "corrupt or truncated"),
        "empty.safetensors": (lambda g, p: p.write_bytes(b""), "corrupt or truncated"),
        "weight_bit_flipped.safetensors": (_flip(100), "weights do not match their checksum"),
        "header_bit_flipped.safetensors": (
            _flip(None, offset=40),
            "corrupt or truncated|not valid JSON|does not match|lacks",
        ),
        "pickle.safetensors": (_pickle(marker), "pickled PyTorch file.*never unpickles"),
        "pickle.pt": (_pickle(marker), "pickled PyTorch file.*never unpickles"),
        "spec_altered.safetensors": (_rewritten(_alter_spec), "feature spec does not match its hash"),
        "wrong_shape.safetensors": (
            _rewritten(_wrong_shape),
            r"tensor '.*' has shape \(\d+, \d+\), the model config needs",
        ),
        "precomputed_features.safetensors": (_rewritten(_precomputed_features), "precomputed 'memo2496' features"),
        "a folder.safetensors": (lambda g, p: p.mkdir(), "a folder, not a model bundle file"),
        "missing.safetensors": (lambda g, p: None, "no such model bundle"),
    }


CASE_NAMES = list(_cases(Path("marker")))


@pytest.mark.parametrize("command", ["analyze", "stream"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_bundle_is_refused_naming_the_problem(
    name: str, command: str, bundle_path: Path, tmp_path: Path, capsys
) -> None:
    marker = tmp_path / "code-ran"
    make, reason = _cases(marker)[name]
    bad = tmp_path / name
    make(bundle_path, bad)
    music = tmp_path / "music.wav"
    soundfile.write(str(music), good_audio(), RATE, subtype="FLOAT")
    out = tmp_path / "out"
    if command == "analyze":
        args = ["analyze", str(music), "--out", str(out), "--model", str(bad)]
    else:
        args = [
            "stream",
            "--input",
            str(music),
            "--pace",
            "fast",
            "--no-osc",
            "--log",
            str(out / "log.csv"),
            "--model",
            str(bad),
        ]
        out.mkdir()
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"damer {command}: error: {bad}: "), captured.err
    assert re.search(reason, lines[0]), lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not marker.exists()
    assert not out.exists() or list(out.iterdir()) == []  # nothing written (a missing bundle: not even --out)


def _hostile_checkpoint(run_dir: Path) -> Path:
    """A ``checkpoint.pt`` in the output folder whose unpickling would create the returned marker file."""
    marker = run_dir / "code-ran"
    (run_dir / "run").mkdir()
    torch.save(
        {"format": "damer-train-checkpoint", "hook": _Payload(f"touch {marker}")},
        str(run_dir / "run" / "checkpoint.pt"),
    )
    return marker


def test_hostile_training_checkpoint_is_never_unpickled(tiny_run_dir: Path) -> None:
    marker = _hostile_checkpoint(tiny_run_dir)
    main(["train", "recipe.yaml", "--out", "run", "--no-progress"])
    assert not marker.exists()


def test_hostile_training_checkpoint_is_refused_on_one_line(tiny_run_dir: Path, capsys) -> None:
    _hostile_checkpoint(tiny_run_dir)
    assert main(["train", "recipe.yaml", "--out", "run", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("damer train: error: run/checkpoint.pt: cannot read the checkpoint") and "--restart" in err
