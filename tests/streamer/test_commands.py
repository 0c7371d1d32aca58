"""The ``damer stream`` / ``damer analyze`` commands end to end, with their errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.cli import main
from tests.streamer.conftest import music_signal, offline_reference
from tests.streamer.osc_receivers import PythonOscReceiver


def test_stream_a_file_fast_to_osc_and_logs(bundle, bundle_path: Path, write_wav, tmp_path: Path, capsys) -> None:
    audio = music_signal(1.5, 22050)
    path = write_wav("music.wav", audio, 22050)
    receiver = PythonOscReceiver()
    try:
        code = main(
            [
                "stream",
                "--input",
                str(path),
                "--pace",
                "fast",
                "--osc",
                receiver.target,
                "--model",
                str(bundle_path),
                "--log",
                str(tmp_path / "log.csv"),
                "--no-meter",
            ]
        )
        out = capsys.readouterr().out
        reference = offline_reference(bundle, audio, 22050)
        bundles = receiver.take(reference["time"].size)
    finally:
        receiver.close()
    assert code == 0
    assert f"model: {bundle_path}" in out and "randomly initialised" in out
    assert f"input: file {path}" in out and "stopped by: end of input" in out
    assert f"updates: {reference['time'].size}" in out
    log = np.genfromtxt(tmp_path / "log.csv", delimiter=",", names=True)
    assert log.dtype.names == ("time", "valence", "arousal", "p_high_valence", "p_high_arousal", "compute_ms")
    np.testing.assert_allclose(log["time"], reference["time"], atol=1e-6)
    np.testing.assert_allclose(log["valence"], reference["va"][:, 0], atol=1e-5)
    assert [b.messages[1][2][0] for b in bundles] == pytest.approx(reference["va"][:, 0].tolist(), abs=1e-5)


def test_jsonl_log(bundle_path: Path, write_wav, tmp_path: Path, capsys) -> None:
    path = write_wav("music.wav", music_signal(1.0, 22050), 22050)
    log = tmp_path / "log.jsonl"
    assert (
        main(
            [
                "stream",
                "--input",
                str(path),
                "--pace",
                "fast",
                "--no-osc",
                "--model",
                str(bundle_path),
                "--log",
                str(log),
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) > 30
    assert set(records[0]) == {"time", "valence", "arousal", "p_high_valence", "p_high_arousal", "compute_ms"}


def _damer(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "damer_core.cli", *args], capture_output=True, text=True, timeout=180, **kwargs
    )


def test_stream_raw_float32_from_stdin(bundle, bundle_path: Path, tmp_path: Path) -> None:
    audio = music_signal(1.2, 16000)
    log = tmp_path / "stdin.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "damer_core.cli",
            "stream",
            "--input",
            "-",
            "--stdin-rate",
            "16000",
            "--pace",
            "fast",
            "--no-osc",
            "--model",
            str(bundle_path),
            "--log",
            str(log),
        ],
        input=audio.astype("<f4").tobytes(),
        capture_output=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"raw float32 on stdin (16000 Hz" in result.stdout
    table = np.genfromtxt(log, delimiter=",", names=True)
    reference = offline_reference(bundle, audio, 16000)
    np.testing.assert_allclose(table["valence"], reference["va"][:, 0], atol=5e-5)
    np.testing.assert_allclose(table["time"], reference["time"], atol=1e-6)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_a_summary(signum: int, bundle_path: Path, write_wav) -> None:
    path = write_wav("long.wav", music_signal(20.0, 22050), 22050)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "damer_core.cli",
            "stream",
            "--input",
            str(path),
            "--no-osc",
            "--model",
            str(bundle_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:  # wait until the stream runs
        if line.startswith("input:") or time.monotonic() > deadline:
            break
    time.sleep(1.5)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped by: stop request" in out and "updates:" in out and "Traceback" not in err


def test_analyze_writes_outputs_and_reports_bad_files(
    bundle, bundle_path: Path, write_wav, tmp_path: Path, capsys
) -> None:
    audio = music_signal(1.3, 44100)
    good = write_wav("song.wav", audio, 44100)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    twin = other_dir / "song.flac"
    soundfile.write(str(twin), audio[:30000], 44100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.ogg"
    corrupt.write_bytes(b"OggS" + bytes(range(256)) * 20)
    out_dir = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(good),
            str(empty),
            str(corrupt),
            str(tmp_path / "missing.mp3"),
            str(twin),
            "--out",
            str(out_dir),
            "--model",
            str(bundle_path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert f"model: {bundle_path}" in captured.out
    for name in ("empty.wav: empty file", "corrupt.ogg: cannot decode", "missing.mp3: no such file"):
        assert name in captured.err
    assert "2 file(s) analysed, 3 failed" in captured.out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "index.csv",
        "song-2.csv",
        "song-2.json",
        "song-2.png",
        "song.csv",
        "song.json",
        "song.png",
        "summary.json",
    ]
    header = (out_dir / "song.csv").read_text().splitlines()[0]
    assert header == "time,valence,arousal,p_high_valence,p_high_arousal"
    table = np.genfromtxt(out_dir / "song.csv", delimiter=",", names=True)
    reference = offline_reference(bundle, audio, 44100)
    np.testing.assert_allclose(table["time"], reference["time"], atol=1e-6)
    np.testing.assert_allclose(table["arousal"], reference["va"][:, 1], atol=5e-5)
    summary = json.loads((out_dir / "song.json").read_text())
    assert summary["updates"] == reference["time"].size and summary["sample_rate"] == 44100
    assert summary["valence"]["mean"] == pytest.approx(float(reference["va"][:, 0].mean()), abs=1e-5)
    assert (out_dir / "song.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((out_dir / "summary.json").read_text())
    assert [f["status"] for f in run["files"]] == ["ok", "failed", "failed", "failed", "ok"]


def test_missing_model_bundle_is_a_clear_error(write_wav, tmp_path: Path, capsys) -> None:
    path = write_wav("music.wav", music_signal(0.5, 22050), 22050)
    assert main(["stream", "--input", str(path), "--model", str(tmp_path / "none.safetensors")]) == 2
    assert "none.safetensors: no such model bundle" in capsys.readouterr().err


def test_bad_config_names_file_and_key(bundle_path: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "show.yaml"
    config.write_text("engine:\n  smoothing_s: -1\n")
    assert main(["stream", "--config", str(config), "--model", str(bundle_path)]) == 2
    err = capsys.readouterr().err
    assert "show.yaml" in err and "engine.smoothing_s" in err
    config.write_text("osc:\n  targets: [127.0.0.1:9000\n")
    assert main(["stream", "--config", str(config)]) == 2
    assert "malformed YAML" in capsys.readouterr().err


def test_unresolvable_osc_host_fails_before_streaming(bundle_path: Path, write_wav, capsys) -> None:
    path = write_wav("music.wav", music_signal(0.5, 22050), 22050)
    assert (
        main(["stream", "--input", str(path), "--osc", "no-such-host.invalid:9000", "--model", str(bundle_path)]) == 2
    )
    err = capsys.readouterr().err
    assert "no-such-host.invalid" in err and "cannot resolve" in err


def test_bad_duration(bundle_path: Path, capsys) -> None:
    assert main(["stream", "--duration", "0", "--model", str(bundle_path)]) == 2
    assert "--duration" in capsys.readouterr().err


_RUN_AND_LIST_HEAVY_IMPORTS = """
import json, sys
from damer_core.cli import main
status = main(sys.argv[1:])
print(json.dumps([status, sorted(m for m in ("torch", "numba", "sounddevice") if m in sys.modules)]))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["stream", "--osc", "bad"],
        ["stream", "--input", "no-such-song.wav"],
        ["stream", "--model", "no-such-model"],
        ["stream", "--duration", "-1"],
        ["stream", "--config", "CONFIG"],
        ["analyze", "song.wav", "--out", "OUT", "--model", "no-such-model"],
        ["analyze", "song.wav", "--out", "OUT", "--smoothing", "-2"],
    ],
    ids=["bad osc", "missing input", "missing model", "bad duration", "bad config", "analyze model", "analyze flag"],
)
def test_settings_errors_come_before_torch_loads(argv: list[str], tmp_path: Path) -> None:
    """A mistake in the settings is reported at once: nothing heavy is imported before they are checked."""
    config = tmp_path / "show.yaml"
    config.write_text("engine:\n  smoothing_s: -1\n")
    argv = [str(config) if a == "CONFIG" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    run = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_HEAVY_IMPORTS, *argv], capture_output=True, text=True, cwd=tmp_path
    )
    status, heavy = json.loads(run.stdout.splitlines()[-1])
    assert status == 2 and heavy == [], run.stderr
    assert len(run.stderr.splitlines()) == 1 and "error:" in run.stderr


def test_unknown_flag_shows_the_sub_command_usage_and_version_is_printed() -> None:
    typo = subprocess.run(
        [sys.executable, "-m", "damer_core.cli", "stream", "--inptu", "x"], capture_output=True, text=True
    )
    assert typo.returncode == 2
    assert typo.stderr.startswith("usage: damer stream") and "unrecognized arguments: --inptu x" in typo.stderr
    version = subprocess.run([sys.executable, "-m", "damer_core.cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("damer 0.")
