"""``damer analyze --ray ADDRESS`` against a local Ray head that this module starts on 127.0.0.1 (two CPUs,
100 MB of object store) and stops: the same results as a local run with a corrupt file among good ones, a
resume with ``--skip-existing``, a Ray worker killed mid-file. Skipped, saying why, only where Ray is not
installed or cannot start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.ray_head import RAY_ENV, RayUnavailable, local_head
from tests.robustness.conftest import damer_command
from tests.streamer.batch.conftest import assert_same_results, start, wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A head of two CPUs for this module (stopped with it)."""
    try:
        with local_head(cpus=2) as address:
            yield address
    except RayUnavailable as exc:
        print(f"Ray tests skipped: {exc}")
        pytest.skip(str(exc))


def analyze(library: Path, out: Path, bundle_path: Path, *flags: str) -> subprocess.CompletedProcess:
    command = damer_command("analyze", str(library), "--out", str(out), "--model", str(bundle_path), *flags)
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env={**os.environ, **RAY_ENV})


@pytest.fixture(scope="module")
def local_run(library: Path, bundle_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    run = analyze(library, out, bundle_path, "--jobs", "1")
    assert run.returncode == 1, run.stderr  # the corrupt file
    return out


def test_ray_run_equals_the_local_run_and_resumes(
    ray_address: str, library: Path, bundle_path: Path, local_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = analyze(library, out, bundle_path, "--ray", ray_address)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 7 and sorted(int(line[1]) for line in lines) == list(range(1, 8)), run.stderr
    assert [line for line in lines if "FAILED" in line] == [
        f"[3/7] FAILED {library / 'corrupt.ogg'}: " + _reason(local_run)
    ]
    assert f"on the Ray cluster at {ray_address}: 2 CPU(s), 0 GPU(s); model on cpu" in run.stdout
    assert_same_results(out, local_run)
    # Resume: two files' outputs lost, the rest complete.
    for name in ("b.json", "e.csv"):
        (out / name).unlink()
    resumed = analyze(library, out, bundle_path, "--ray", ray_address, "--skip-existing")
    assert resumed.returncode == 1, resumed.stderr
    assert "4 of 7 file(s) have complete outputs" in resumed.stderr
    assert_same_results(out, local_run)


def test_a_ray_worker_killed_mid_file_has_its_file_run_again(
    ray_address: str, library: Path, bundle_path: Path, local_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    long_file = str((library / "d_long.wav").resolve())
    process = start(library, out, bundle_path, "--ray", ray_address, env={**os.environ, **RAY_ENV})
    wait_until(lambda: bool(_holders(long_file)), process, "a Ray worker on the long file")
    for pid in _holders(long_file):
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "died" not in stderr
    assert_same_results(out, local_run)


def _reason(out: Path) -> str:
    files = json.loads((out / "summary.json").read_text())["files"]
    reason = next(f["reason"] for f in files if f["status"] == "failed")
    return reason.split(": ", 1)[1]


def _holders(path: str) -> list[int]:
    """Processes of this machine that have ``path`` open (Ray's workers are the head's children, not ours)."""
    holders = []
    for descriptors in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == path for fd in descriptors.iterdir()):
                holders.append(int(descriptors.parent.name))
        except OSError:
            continue
    return holders
