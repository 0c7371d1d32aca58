"""``damer analyze`` over a generated corpus of bad inputs, each between two good files in one call, in one
process (``--jobs 1``) and with two worker processes (``--jobs 2``).

For every input: no traceback (nothing on the terminal but one line per file), its line names the file and
the reason, nothing is written for a failed file, the good files' results equal those of the good file
analysed alone, and the exit status is non-zero. The unreadable file needs a process that permissions
apply to: as root, the call runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (see ``conftest.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from streamer.analysis import unique_stem
from tests.robustness.conftest import assert_outputs_whole, damer, final_names, permission_respecting, read_csv
from tests.robustness.corpus import CORPUS, MISSING, RATE, UNREADABLE, Case, good_audio

pytestmark = pytest.mark.timeout(600)

_LINE = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")


@dataclass
class Sweep:
    """The corpus run: input paths, output folder, the lines per input, the exit status, the reference."""

    inputs: list[Path]
    stems: list[str]
    out: Path
    alone: Path
    lines: dict[int, str]
    stray: list[str]
    stdout: str
    stderr: str
    returncode: int
    no_permissions_reason: str | None

    def index(self, case: Case) -> int:
        """1-based position of ``case``'s file on the command line (good files sit at odd positions)."""
        return 2 + 2 * CORPUS.index(case)


def run_sweep(root: Path, bundle_path: Path, jobs: str) -> Sweep:
    """Write the corpus under ``root``, analyse the good file alone, then every input between good files."""
    folder = root / "inputs"
    folder.mkdir()
    good = folder / "good.wav"
    soundfile.write(str(good), good_audio(), RATE, subtype="FLOAT")
    paths = []
    for case in CORPUS:
        path = folder / case.name
        case.write(path)
        paths.append(path)
    assert not (folder / MISSING).exists()
    preexec, no_permissions = permission_respecting(root)
    alone = damer("analyze", str(good), "--out", str(root / "alone"), "--model", str(bundle_path))
    assert alone.returncode == 0, alone.stderr
    files = [str(good)]
    for path in paths:
        files += [str(path), str(good)]
    run = damer(
        "analyze", *files, "--out", str(root / "out"), "--model", str(bundle_path), "--jobs", jobs, preexec_fn=preexec
    )
    lines, stray = {}, []
    for line in run.stderr.splitlines():
        match = _LINE.match(line)
        if match is None or int(match[2]) != len(files):
            stray.append(line)
        else:
            lines[int(match[1])] = match[3]
    used: set[str] = set()
    stems = [unique_stem(Path(name).stem, used) for name in files]
    return Sweep(
        paths, stems, root / "out", root / "alone", lines, stray, run.stdout, run.stderr, run.returncode, no_permissions
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_corpus_of_bad_inputs_beside_good_files(jobs: str, tmp_path: Path, bundle_path: Path, subtests) -> None:
    """One run of the whole corpus (a minute of work), checked input by input in subtests."""
    sweep = run_sweep(tmp_path, bundle_path, jobs)
    with subtests.test("the run"):
        check_run(sweep)
    for case in CORPUS:
        with subtests.test(case.name):
            check_case(sweep, case)
    with subtests.test("non-finite samples analysed as zeros"):
        np.testing.assert_array_equal(_values(sweep, "nan_and_inf.wav"), _values(sweep, "nan_zeroed.wav"))
    with subtests.test("awkward but valid files"):
        check_awkward_files(sweep)


def check_run(sweep: Sweep) -> None:
    """Every file reported once, nothing else on the terminal, non-zero exit status at the end."""
    assert sweep.stray == [], "lines on the terminal that are no file's report"
    n_files = 1 + 2 * len(CORPUS)
    assert "Traceback" not in sweep.stderr + sweep.stdout
    assert sorted(sweep.lines) == list(range(1, n_files + 1))
    failures = sum(case.outcome == "fail" for case in CORPUS)
    if sweep.no_permissions_reason is not None:
        failures -= 1  # read as root after all
    assert sweep.stdout.splitlines()[-1].startswith(f"{n_files - failures} file(s) analysed, {failures} failed")
    assert sweep.returncode == 1
    summary = json.loads((sweep.out / "summary.json").read_text(encoding="utf-8"))
    assert summary["complete"] is True and len(summary["files"]) == n_files


def check_case(sweep: Sweep, case: Case) -> None:
    """The input's line and outputs, and the good files on both sides of it."""
    if case.name == UNREADABLE and sweep.no_permissions_reason is not None:
        print(f"unreadable-file case skipped: {sweep.no_permissions_reason}")
        pytest.skip(sweep.no_permissions_reason)
    k = sweep.index(case)
    path, stem, line = sweep.inputs[k // 2 - 1], sweep.stems[k - 1], sweep.lines[k]
    entry = json.loads((sweep.out / "summary.json").read_text(encoding="utf-8"))["files"][k - 1]
    if case.outcome == "fail":
        assert line.startswith(f"FAILED {path}: "), line
        assert re.search(case.reason, line), line
        assert entry["status"] == "failed" and entry["reason"] == line.removeprefix("FAILED ")
        assert not {f"{stem}.csv", f"{stem}.json", f"{stem}.png"} & final_names(sweep.out)
    else:
        assert line.startswith(f"{path}: ") and "FAILED" not in line, line
        warnings = re.findall(r"; warning: ([^;]*)", line)
        if case.reason is None:
            assert warnings == []
        else:
            assert any(re.search(case.reason, warning) for warning in warnings), line
        summary = assert_outputs_whole(sweep.out, stem)
        assert summary["warnings"] == warnings == entry["warnings"]
    # The good files on both sides came out exactly as when analysed alone.
    for neighbour in (k - 1, k + 1):
        assert sweep.lines[neighbour].startswith(f"{sweep.inputs[0].parent / 'good.wav'}: ")
        neighbour_stem = sweep.stems[neighbour - 1]
        csv = (sweep.out / f"{neighbour_stem}.csv").read_bytes()
        assert csv == (sweep.alone / "good.csv").read_bytes()
        mine = assert_outputs_whole(sweep.out, neighbour_stem)
        alone = json.loads((sweep.alone / "good.json").read_text(encoding="utf-8"))
        timing = ("x_realtime", "compute_ms_mean", "compute_ms_p99")
        assert {k: v for k, v in mine.items() if k not in timing} == {k: v for k, v in alone.items() if k not in timing}


def _values(sweep: Sweep, name: str) -> np.ndarray:
    case = next(case for case in CORPUS if case.name == name)
    table = read_csv(sweep.out / f"{sweep.stems[sweep.index(case) - 1]}.csv")
    return np.stack([table[column] for column in table.dtype.names], axis=1)


def check_awkward_files(sweep: Sweep) -> None:
    """Other names, channel counts, sample formats and rates of the good audio give the good results."""
    good = read_csv(sweep.alone / "good.csv")
    reference = np.stack([good[column] for column in good.dtype.names], axis=1)
    # The same samples under another name, as six identical channels, as 24-bit integers.
    np.testing.assert_array_equal(_values(sweep, "with spaces é ü 日本.wav"), reference)
    np.testing.assert_allclose(_values(sweep, "six_channels.wav"), reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_values(sweep, "pcm_24.wav"), reference, rtol=0, atol=1e-3)
    for name in ("rate_8k.wav", "rate_96k.wav", "rate_44101.wav", "opus.ogg"):
        times = _values(sweep, name)[:, 0]
        np.testing.assert_allclose(times, reference[: times.size, 0], atol=1e-9)  # the update grid of 1 s
        assert times.size >= reference.shape[0] - 1
