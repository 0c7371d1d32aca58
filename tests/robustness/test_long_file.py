"""A two-hour file, generated here and never stored, analysed beside a good file: it streams through in
bounded memory and comes out whole.

The file is quiet (silence with a chord every five minutes): FLAC keeps it to a few hundred kilobytes. The
model is the small one with a coarse 8 kHz front-end (hop 1024, 16 Mel bands, 8 gammatone channels): the
engine, the sources, the outputs and their code paths are those of any bundle, while two hours take seconds
instead of the minutes the full-rate front-end needs on one CPU core. Memory is the peak resident size of
the process, compared with the same command on a one-minute file: decoding the whole file at once would
add 230 MB (float32 at 8 kHz).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.bundle import load_bundle, random_bundle
from damer_core.spec import CochleagramSpec, FeatureSpec, MelSpec
from tests.conftest import SMALL_MODEL
from tests.robustness.conftest import assert_outputs_whole, damer_command
from tests.robustness.corpus import RATE, good_audio

COARSE = FeatureSpec(
    sample_rate=8000,
    hop=1024,
    win_length=2048,
    mel=MelSpec(n_mels=16),
    cochleagram=CochleagramSpec(n_channels=8, f_max=3500.0),
)
LONG_RATE = 8000
HOURS = 2.0


def write_quiet_file(path: Path, seconds: float, rate: int) -> None:
    """Silence with a 1 s chord every 300 s, written block by block as 16-bit FLAC."""
    n = int(seconds * rate)
    t = np.arange(rate) / rate
    chord = (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * np.exp(-3 * t)).astype(np.float32)
    block = np.zeros(300 * rate, dtype=np.float32)
    block[: chord.size] = chord
    with soundfile.SoundFile(str(path), "w", rate, 1, subtype="PCM_16", format="FLAC") as file:
        for start in range(0, n, block.size):
            file.write(block[: min(block.size, n - start)])


def analyze_measured(files: list[Path], out: Path, bundle: Path, log: Path) -> tuple[int, int]:
    """Run ``damer analyze`` and return (exit status, peak resident memory in kB)."""
    with log.open("w") as output:
        process = subprocess.Popen(
            damer_command("analyze", *map(str, files), "--out", str(out), "--model", str(bundle)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss


@pytest.mark.timeout(900)
def test_two_hour_file_streams_in_bounded_memory(tmp_path: Path, write_wav) -> None:
    bundle = random_bundle(tmp_path / "coarse.safetensors", seed=5, config=SMALL_MODEL, spec=COARSE)
    model = load_bundle(bundle, "cpu").model
    good = write_wav("good.wav", good_audio(), RATE)
    long_file, minute = tmp_path / "two hours.flac", tmp_path / "one minute.flac"
    write_quiet_file(long_file, HOURS * 3600, LONG_RATE)
    write_quiet_file(minute, 60.0, LONG_RATE)
    assert long_file.stat().st_size < 2_000_000

    code, peak_long = analyze_measured([good, long_file, good], tmp_path / "long", bundle, tmp_path / "long.log")
    output = (tmp_path / "long.log").read_text()
    assert code == 0, output
    code, peak_minute = analyze_measured([good, minute, good], tmp_path / "minute", bundle, tmp_path / "minute.log")
    assert code == 0, (tmp_path / "minute.log").read_text()
    print(f"peak resident memory: {peak_long / 1024:.0f} MB for 2 h, {peak_minute / 1024:.0f} MB for 1 min")
    assert peak_long - peak_minute < 60 * 1024, (peak_long, peak_minute)

    assert "Traceback" not in output
    summary = assert_outputs_whole(tmp_path / "long", "two hours")
    n_frames = COARSE.n_frames(int(HOURS * 3600 * LONG_RATE))
    assert summary["updates"] == n_frames // model.frames_per_token
    assert summary["duration_s"] == pytest.approx(HOURS * 3600)
    last = np.loadtxt(tmp_path / "long" / "two hours.csv", delimiter=",", skiprows=1)[-1]
    assert last[0] == pytest.approx(model.token_end_seconds(summary["updates"] - 1))
    for stem in ("good", "good-2"):  # resampled to 8 kHz in blocks that vary with thread timing: float rounding
        np.testing.assert_allclose(
            np.loadtxt(tmp_path / "long" / f"{stem}.csv", delimiter=",", skiprows=1),
            np.loadtxt(tmp_path / "minute" / f"{stem}.csv", delimiter=",", skiprows=1),
            rtol=0,
            atol=1e-5,
        )
    run = json.loads((tmp_path / "long" / "summary.json").read_text())
    assert [f["status"] for f in run["files"]] == ["ok", "ok", "ok"]
