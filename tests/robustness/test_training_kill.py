"""``damer train`` killed with SIGKILL mid-run, again and again, then resumed: the checkpoint on disk is at
every moment a whole one (the previous or the new, never a part), and the resumed run ends exactly where an
uninterrupted run ends (same bundle tensors, same validation history).

The tiny recipe checkpoints after every step here, so a kill often lands while a checkpoint is being
written: a watcher polls the output folder and kills the moment a temporary checkpoint file appears.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
import yaml

from tests.robustness.conftest import damer, damer_command
from train.loop import Trainer, train
from train.recipe import load_recipe

pytestmark = pytest.mark.timeout(600)


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint file; fails unless it loads whole."""
    checkpoint = torch.load(path, weights_only=True)
    return json.loads(checkpoint["state"])["step"]


def run_until_killed(out: str, kill_after_steps: int) -> tuple[str, int | None, set[int]]:
    """Start ``damer train``, watch ``out``; once the checkpoint has moved ``kill_after_steps`` steps past
    where it started, SIGKILL the run at the first moment a checkpoint is being written (or right away if
    none is caught). Returns (how it was killed, the step on disk at the kill, every step seen on disk)."""
    folder = Path(out)
    start = checkpoint_step(folder / "checkpoint.pt") if (folder / "checkpoint.pt").exists() else 0
    process = subprocess.Popen(
        damer_command("train", "recipe.yaml", "--out", out, "--no-progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: set[int] = set()
    last_inode = None
    how, on_disk = "finished first", None
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        checkpoint = folder / "checkpoint.pt"
        try:
            inode = checkpoint.stat().st_ino
        except FileNotFoundError:
            inode = None
        if inode is not None and inode != last_inode:
            step = checkpoint_step(checkpoint)  # every version that ever stood under the name loads whole
            seen.add(step)
            last_inode = inode
        moved = max(seen, default=start) - start
        if moved >= kill_after_steps:
            writing = folder.is_dir() and any(p.name.startswith(".checkpoint.pt.") for p in folder.iterdir())
            if writing or moved >= kill_after_steps + 3:
                process.send_signal(signal.SIGKILL)
                how = "killed while writing a checkpoint" if writing else "killed between checkpoints"
                process.wait(timeout=30)
                on_disk = checkpoint_step(checkpoint)
                break
        time.sleep(0.0005)
    else:
        process.communicate(timeout=60)
    return how, on_disk, seen


def without_loss_means(history: Path) -> list[dict]:
    """The validation history without the training-loss means (see the last test for those)."""
    return [
        {key: value for key, value in entry.items() if key != "losses"} for entry in json.loads(history.read_text())
    ]


def test_killed_training_resumes_to_the_uninterrupted_result(tiny_run_dir: Path) -> None:
    recipe = yaml.safe_load(Path("recipe.yaml").read_text())
    recipe["checkpoint_every"] = 1
    Path("recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    whole = damer("train", "recipe.yaml", "--out", "whole", "--no-progress")
    assert whole.returncode == 0, whole.stderr

    kills = []
    for kill_after in (3, 5, 4):
        how, on_disk, seen = run_until_killed("resumed", kill_after)
        assert how != "finished first"
        kills.append(how)
        # The step on disk after the kill is whole and one the run had completed: the last one the watcher
        # saw, or one more if a rename slipped in between its last look and the kill.
        assert on_disk in (max(seen), max(seen) + 1), (on_disk, seen)
    print(f"kills: {kills}")
    leftovers = [p.name for p in Path("resumed").iterdir() if p.name.startswith(".")]
    assert all(name.startswith(".checkpoint.pt.") and name.endswith(".tmp") for name in leftovers), leftovers

    resumed = damer("train", "recipe.yaml", "--out", "resumed", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1].startswith("finished after 24/24 steps")
    a, b = (safetensors.torch.load_file(f"{d}/model.safetensors") for d in ("whole", "resumed"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert without_loss_means(Path("resumed/history.json")) == without_loss_means(Path("whole/history.json"))
    assert os.path.getsize("resumed/checkpoint.pt") > 0 and checkpoint_step(Path("resumed/checkpoint.pt")) == 24


def test_resumed_run_logs_the_same_loss_means(tiny_run_dir: Path, one_torch_thread) -> None:
    recipe = dataclasses.replace(load_recipe("recipe.yaml"), checkpoint_every=1)
    whole = train(recipe, "whole", progress=False)
    Trainer(recipe, "resumed", progress=False).run(stop_at=5)  # as if killed after step 5's checkpoint
    resumed = train(recipe, "resumed", progress=False)
    assert [entry["losses"] for entry in resumed.history] == [entry["losses"] for entry in whole.history]
