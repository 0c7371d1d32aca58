"""bench/pacing.py on a short tone: both modes run, take turns and report what the JSON promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench import pacing


def test_both_modes_are_timed_in_turns_and_reported(tmp_path: Path) -> None:
    tone = tmp_path / "tone.wav"
    t = np.arange(2 * 44100) / 44100
    soundfile.write(str(tone), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    out = tmp_path / "pacing.json"
    assert (
        pacing.main(["--input", str(tone), "--seconds", "1", "--turn", "10", "--warmup", "5", "--json", str(out)]) == 0
    )
    results = json.loads(out.read_text())
    interval = results["update_interval_ms"]
    assert 20 < interval < 25  # 512 samples at 22050 Hz
    updates = int(2 * 1000 / interval) - 5
    assert results["back_to_back"]["updates"] + results["paced"]["updates"] == updates
    assert abs(results["back_to_back"]["updates"] - results["paced"]["updates"]) <= 10
    for mode in ("back_to_back", "paced"):
        row = results[mode]
        assert 0 < row["wall_p50_ms"] <= row["wall_p99_ms"]
        assert row["cpu_ms_per_update"] > 0
        assert row["cpu_percent_one_core"] == pytest.approx(100 * row["cpu_ms_per_update"] / interval)
    assert results["paced_over_back_to_back_cpu"] > 0
