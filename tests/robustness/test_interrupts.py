"""``damer analyze`` stopped part-way by SIGINT, SIGTERM, repeated Ctrl-C or SIGKILL, in one process
(``--jobs 1``) and with worker processes (``--jobs 2``): the finished files' results are kept and correct,
the file in progress leaves nothing under a final name, ``summary.json`` lists what was finished, and a polite
stop says so on one line. Ctrl-C is sent as a terminal sends it, to the whole process group."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.bundle import load_bundle
from tests.robustness.conftest import assert_outputs_whole, damer_command, final_names, is_open_in, read_csv
from tests.robustness.corpus import RATE, good_audio
from tests.streamer.conftest import music_signal, offline_reference

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, bundle_path: Path) -> dict[str, Path]:
    """A short good file, a long one (seconds of work) and another short one."""
    folder = tmp_path_factory.mktemp("interrupts")
    paths = {"first": folder / "first.wav", "long": folder / "long.wav", "last": folder / "last.wav"}
    soundfile.write(str(paths["first"]), good_audio(), RATE, subtype="FLOAT")
    soundfile.write(str(paths["long"]), np.tile(music_signal(120.0, RATE, seed=31), 5), RATE, subtype="FLOAT")
    soundfile.write(str(paths["last"]), good_audio(), RATE, subtype="FLOAT")
    return paths


def start(
    inputs: dict[str, Path],
    out: Path,
    bundle_path: Path,
    jobs: str = "1",
    order: tuple[str, ...] = ("first", "long", "last"),
) -> subprocess.Popen:
    """``damer analyze first long last`` (or another ``order``) in a process group of its own (as a terminal
    runs a command)."""
    files = [str(inputs[key]) for key in order]
    command = damer_command("analyze", *files, "--out", str(out), "--model", str(bundle_path), "--jobs", jobs)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def wait_until_open(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until the command (or one of its workers) has ``path`` open: the file is being analysed."""
    deadline = time.monotonic() + timeout
    while not is_open_in(process.pid, path):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} was never opened"
        time.sleep(0.005)


def send(process: subprocess.Popen, signum: int) -> None:
    """Ctrl-C as from a terminal (to the process group); SIGTERM as from ``kill PID``."""
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)


def assert_first_file_correct(out: Path, bundle_path: Path) -> None:
    summary = assert_outputs_whole(out, "first")
    table = read_csv(out / "first.csv")
    reference = offline_reference(load_bundle(bundle_path, "cpu"), good_audio(), RATE)
    assert summary["updates"] == reference["time"].size
    np.testing.assert_allclose(table["valence"], reference["va"][:, 0], rtol=0, atol=5e-5)


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT], [signal.SIGINT] * 5],
    ids=["SIGINT", "SIGTERM", "Ctrl-C twice", "Ctrl-C five times"],
)
def test_polite_stop_mid_file_keeps_the_finished_results(
    signals: list[int], inputs, bundle_path: Path, tmp_path: Path
) -> None:
    """However many times Ctrl-C is pressed, and whenever, the stop ends one way: the file in progress
    fails as interrupted, the summary lists the finished ones, the last line says so."""
    out = tmp_path / "out"
    process = start(inputs, out, bundle_path)
    wait_for(out / "first.json", process)
    wait_until_open(inputs["long"], process)
    for signum in signals:
        send(process, signum)
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout
    lines = stderr.splitlines()
    assert re.match(r"^\[1/3\] .*first\.wav: \d+ updates", lines[0])
    assert lines[1] == f"[2/3] FAILED {inputs['long']}: interrupted"
    assert lines[2].startswith("interrupted after 2 of 3 file(s); summary:")
    assert len(lines) == 3
    run = json.loads((out / "summary.json").read_text())
    assert run["complete"] is False
    assert [(f["status"], f.get("reason")) for f in run["files"]] == [
        ("ok", None),
        ("failed", f"{inputs['long']}: interrupted"),
    ]
    assert final_names(out) == {"first.csv", "first.json", "first.png", "index.csv", "summary.json"}
    assert list(out.glob(".*")) == []  # no temporary file left behind either
    assert_first_file_correct(out, bundle_path)


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT] * 5],
    ids=["SIGINT", "SIGTERM", "Ctrl-C five times"],
)
def test_polite_stop_with_two_workers(signals: list[int], inputs, bundle_path: Path, tmp_path: Path) -> None:
    """With worker processes: the two short files finish (the long one is handed out once a worker is free),
    the long one in its worker is stopped and fails as interrupted, the records list all three in input order,
    the workers end with the command."""
    out = tmp_path / "out"
    process = start(inputs, out, bundle_path, jobs="2", order=("first", "last", "long"))
    wait_for(out / "first.json", process)
    wait_for(out / "last.json", process)
    wait_until_open(inputs["long"], process)
    for signum in signals:
        send(process, signum)
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout
    lines = stderr.splitlines()
    finished = sorted(lines[:2])  # in the order they finished
    assert re.match(r"^\[1/3\] .*first\.wav: \d+ updates", finished[0])
    assert re.match(r"^\[2/3\] .*last\.wav: \d+ updates", finished[1])
    assert lines[2:] == [
        f"[3/3] FAILED {inputs['long']}: interrupted",
        f"interrupted after 3 of 3 file(s); summary: {out / 'summary.json'}",
    ]
    run = json.loads((out / "summary.json").read_text())
    assert run["complete"] is False
    assert [f["status"] for f in run["files"]] == ["ok", "ok", "failed"]
    names = {f"{stem}.{kind}" for stem in ("first", "last") for kind in ("csv", "json", "png")}
    assert final_names(out) == names | {"index.csv", "summary.json"}
    assert list(out.glob(".*")) == []
    assert_first_file_correct(out, bundle_path)
    assert (out / "last.csv").read_bytes() == (out / "first.csv").read_bytes()  # the same audio
    assert group_ends(process.pid)


def group_ends(pid: int, timeout: float = 30.0) -> bool:
    """Whether every process of the command's group (its workers) ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("delay", [0.3, 1.2])
def test_sigkill_mid_file_leaves_no_partial_file_under_a_final_name(
    delay: float, inputs, bundle_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process = start(inputs, out, bundle_path)
    wait_for(out / "first.csv", process)
    wait_for(out / "summary.json", process)
    time.sleep(delay)
    assert process.poll() is None, "the long file finished before the kill"
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert final_names(out) == {"first.csv", "first.json", "first.png", "index.csv", "summary.json"}
    run = json.loads((out / "summary.json").read_text())
    assert run["complete"] is False and [f["file"] for f in run["files"]] == [str(inputs["first"])]
    assert_first_file_correct(out, bundle_path)
    # What the kill left of the long file are hidden temporary files only.
    assert all(re.match(r"^\.long\.(csv|json|png)\.\w+\.tmp$", p.name) for p in out.glob(".*"))
