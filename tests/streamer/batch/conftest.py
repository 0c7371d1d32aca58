"""Fixtures and helpers of the ``damer analyze`` tests: a small music library, the command in a process group
of its own, waiting on what it does, comparing two runs' outputs."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.robustness.conftest import damer_command, final_names
from tests.streamer.conftest import music_signal


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of music: short files at two depths, a long one (seconds of work), a corrupt one."""
    root = tmp_path_factory.mktemp("library")
    (root / "disc 2").mkdir()
    for i, name in enumerate(["a.wav", "b.wav", "disc 2/c.flac", "disc 2/e.wav", "f.wav"]):
        soundfile.write(
            str(root / name), music_signal(2.0 + i, 22050 if i % 2 else 44100, seed=i), 22050 if i % 2 else 44100
        )
    soundfile.write(str(root / "d_long.wav"), np.tile(music_signal(60.0, 22050, seed=9), 6), 22050, subtype="FLOAT")
    (root / "corrupt.ogg").write_bytes(b"OggS" + bytes(range(256)) * 20)
    return root


def start(
    library: Path, out: Path, bundle_path: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``damer analyze LIBRARY --out OUT --model BUNDLE FLAGS...`` in a process group of its own."""
    command = damer_command("analyze", str(library), "--out", str(out), "--model", str(bundle_path), *flags)
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str, timeout: float = 120.0) -> None:
    """Wait until ``condition()`` holds, while the command runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, (what, process.communicate())
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def assert_same_results(mine: Path, reference: Path) -> None:
    """The same final files with the same bytes (``summary.json`` aside: it lists the same files)."""
    assert final_names(mine) == final_names(reference)
    for name in final_names(reference) - {"summary.json"}:
        assert (mine / name).read_bytes() == (reference / name).read_bytes(), name
    files = [json.loads((out / "summary.json").read_text())["files"] for out in (mine, reference)]
    assert files[0] == files[1]
