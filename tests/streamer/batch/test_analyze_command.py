"""``damer analyze`` as a library tool: folders and patterns, ``--no-plot``, the catalogue ``index.csv``, a run
killed and resumed with ``--skip-existing``, a worker process that dies."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from damer_core.cli import main
from streamer.batch.catalogue import INDEX_COLUMNS
from tests.robustness.conftest import damer_command, final_names, has_open, is_open_in, process_tree
from tests.streamer.batch.conftest import assert_same_results, start, wait_until

pytestmark = pytest.mark.timeout(300)


def read_index(out: Path) -> list[dict[str, str]]:
    with (out / "index.csv").open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == INDEX_COLUMNS
        return list(reader)


def test_no_plot_folder_and_catalogue(library: Path, bundle_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["analyze", str(library), "--out", str(out), "--model", str(bundle_path), "--jobs", "1", "--no-plot"])
    captured = capsys.readouterr()
    assert code == 1  # the corrupt file
    stems = ["a", "b", "corrupt", "d_long", "c", "e", "f"]
    assert final_names(out) == {f"{s}.{k}" for s in stems if s != "corrupt" for k in ("csv", "json")} | {
        "index.csv",
        "summary.json",
    }
    assert "-> " + str(out / "a") + ".csv/.json" in captured.err
    rows = read_index(out)
    expected_order = ["a.wav", "b.wav", "corrupt.ogg", "d_long.wav", "disc 2/c.flac", "disc 2/e.wav", "f.wav"]
    assert [row["path"] for row in rows] == [str(library / name) for name in expected_order]
    for row, stem in zip(rows, stems, strict=True):
        if stem == "corrupt":
            assert row["status"] == "failed" and row["reason"].startswith(f"{library / 'corrupt.ogg'}: cannot decode")
            assert row["duration_s"] == row["valence_mean"] == row["q1"] == ""
            continue
        summary = json.loads((out / f"{stem}.json").read_text())
        table = np.genfromtxt(out / f"{stem}.csv", delimiter=",", names=True)
        valence, arousal = table["valence"], table["arousal"]
        assert row["status"] == "ok" and row["reason"] == row["warnings"] == ""
        assert int(row["updates"]) == summary["updates"] == valence.size
        assert float(row["duration_s"]) == pytest.approx(summary["duration_s"], abs=5e-4)
        assert float(row["valence_mean"]) == pytest.approx(valence.mean(), abs=2e-6)
        assert float(row["arousal_sd"]) == pytest.approx(arousal.std(), abs=2e-6)
        quadrants = [
            (valence > 0) & (arousal > 0),
            (valence <= 0) & (arousal > 0),
            (valence <= 0) & (arousal <= 0),
            (valence > 0) & (arousal <= 0),
        ]
        for name, members in zip(("q1", "q2", "q3", "q4"), quadrants, strict=True):
            assert float(row[name]) == pytest.approx(members.mean(), abs=1e-6)
    run = json.loads((out / "summary.json").read_text())
    assert run["complete"] is True and [Path(f["file"]).name for f in run["files"]] == [
        Path(name).name for name in expected_order
    ]


def test_patterns_given_quoted(library: Path, bundle_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    pattern = str(library / "**" / "*.flac")
    code = main(
        ["analyze", pattern, str(library / "[ab].wav"), "--out", str(out), "--model", str(bundle_path), "--jobs", "1"]
    )
    assert code == 0, capsys.readouterr().err
    assert [row["path"] for row in read_index(out)] == [str(library / n) for n in ("disc 2/c.flac", "a.wav", "b.wav")]


@pytest.fixture(scope="module")
def uninterrupted(library: Path, bundle_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    process = start(library, out, bundle_path, "--jobs", "2")
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stderr  # the corrupt file
    return out


def test_a_killed_run_resumed_gives_the_uninterrupted_results(
    library: Path, bundle_path: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    """SIGKILL while the long file is computed in a worker, others done; then ``--skip-existing``: the same
    ``index.csv``, CSVs, JSONs and plots, byte for byte, and the finished files are not computed again."""
    out = tmp_path / "out"
    process = start(library, out, bundle_path, "--jobs", "2")
    wait_until(lambda: (out / "a.json").exists() and (out / "index.csv").exists(), process, "a finished file")
    wait_until(lambda: is_open_in(process.pid, library / "d_long.wav"), process, "the long file")
    process.kill()
    process.communicate(timeout=60)
    done_before = {p.stem for p in out.glob("*.json")} - {"summary"}
    assert "d_long" not in done_before and "a" in done_before
    resumed = subprocess.run(
        damer_command(
            "analyze", str(library), "--out", str(out), "--model", str(bundle_path), "--jobs", "2", "--skip-existing"
        ),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 1, resumed.stderr
    assert f"{len(done_before)} of 7 file(s) have complete outputs in {out}: skipped" in resumed.stderr
    for stem in done_before:
        assert f"/{stem}." not in resumed.stderr.replace(str(library), "")  # no line: not computed again
    assert_same_results(out, uninterrupted)
    assert list(out.glob(".*")) == []


def test_a_worker_that_dies_has_its_file_run_again(
    library: Path, bundle_path: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    """The worker computing the long file is killed (as the out-of-memory killer would): the pool is rebuilt,
    the file is computed again, and the run ends with the uninterrupted results."""
    out = tmp_path / "out"
    process = start(library, out, bundle_path, "--jobs", "2")
    long_file = library / "d_long.wav"
    wait_until(lambda: is_open_in(process.pid, long_file), process, "the long file")
    workers = [pid for pid in process_tree(process.pid)[1:] if has_open(pid, long_file)]
    assert workers, "no worker process has the long file open"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "died" not in stderr
    assert_same_results(out, uninterrupted)
