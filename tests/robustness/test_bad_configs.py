"""Broken settings files through ``damer stream --config`` and broken recipes through ``damer train``: one
line naming the file, the dotted key and what is allowed; nothing started, nothing executed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from damer_core.cli import main

STREAM_CASES = {
    "malformed": ("engine:\n  ring_seconds: [4.0\n", r"malformed YAML at line \d+, column \d+"),
    "tab indentation": ("engine:\n\tring_seconds: 4.0\n", r"malformed YAML at line 2"),
    "not a mapping": ("- engine\n- osc\n", r"top level: expected a mapping, got list"),
    "unknown key": (
        "engine:\n  smoothing: 0.5\n",
        r"unknown key 'engine\.smoothing' \(allowed here: max_lag_s, ring_seconds, smoothing_s, torch_threads\)",
    ),
    "unknown section": ("engin:\n  smoothing_s: 0.5\n", r"unknown key 'engin'"),
    "key twice": (
        "engine:\n  ring_seconds: 8\n  max_lag_s: 1\n  ring_seconds: 2\n",
        r"key 'ring_seconds' given twice \(first at line 2\)",
    ),
    "string for a number": ("engine:\n  max_lag_s: fast\n", r"engine\.max_lag_s: expected a number, got str 'fast'"),
    "float for an integer": (
        "engine:\n  torch_threads: 1.5\n",
        r"engine\.torch_threads: expected an integer, got float 1\.5",
    ),
    "string for a list": ("osc:\n  targets: 127.0.0.1:9000\n", r"osc\.targets: expected a list"),
    "negative ring": (
        "engine:\n  ring_seconds: -4\n",
        r"engine\.ring_seconds: must be in \[0\.5, 600\] seconds, got -4\.0",
    ),
    "zero latency": ("input:\n  latency: 0\n", r"input\.latency: must be in \(0, 2\] seconds or 'low'/'high', got 0"),
    "negative block size": ("input:\n  blocksize: -256\n", r"input\.blocksize: must be in 0\.\.65536 frames, got -256"),
    "NaN smoothing": ("engine:\n  smoothing_s: .nan\n", r"engine\.smoothing_s: must be in \[0, 60\] seconds, got nan"),
    "lag beyond ring": (
        "engine:\n  ring_seconds: 1\n  max_lag_s: 2\n",
        r"engine\.max_lag_s: must be in \[0\.15, ring_seconds = 1\.0\)",
    ),
    "bad choice": ("input:\n  pace: slow\n", r"input\.pace: must be one of 'realtime', 'fast', got 'slow'"),
    "bad OSC target": ("osc:\n  targets: ['localhost:99999']\n", r"osc\.targets\[0\]: .*port must be in 1\.\.65535"),
    "python object tag": (
        "engine: !!python/object/apply:os.system ['touch MARKER']\n",
        r"malformed YAML.*could not determine a constructor",
    ),
}


@pytest.mark.parametrize("text, message", STREAM_CASES.values(), ids=STREAM_CASES.keys())
def test_bad_stream_settings(text: str, message: str, bundle_path: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "show settings.yaml"
    config.write_text(text, encoding="utf-8")
    assert main(["stream", "--config", str(config), "--model", str(bundle_path), "--no-osc"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"damer stream: error: {config}: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert captured.out == ""  # refused before loading the model or opening anything
    assert not (tmp_path / "MARKER").exists()


def test_unreadable_settings_files(tmp_path: Path, capsys) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\xff\xfe\x80" * 64)
    cases = {
        binary: "not a text (UTF-8) file",
        tmp_path / "nowhere.yaml": "cannot read config file",
        tmp_path: "cannot read config file",
    }
    for path, message in cases.items():
        assert main(["stream", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"damer stream: error: {path}: ") and message in err and err.count("\n") == 1, err


TINY = Path(__file__).resolve().parents[1] / "train" / "tiny.yaml"


def _recipe(edit: dict) -> str:
    """The tiny recipe with ``edit`` merged in (``{"features": {"hop": -256}}``)."""
    data = yaml.safe_load(TINY.read_text())
    for section, values in edit.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return yaml.safe_dump(data, sort_keys=False)


TRAIN_CASES = {
    "negative hop": (_recipe({"features": {"hop": -256}}), r"features\.hop: must be > 0 samples, got -256"),
    "zero window": (
        _recipe({"features": {"win_length": 0}}),
        r"features\.win_length: must be a positive multiple of hop \(256\), got 0",
    ),
    "window not a multiple of hop": (
        _recipe({"features": {"win_length": 1000}}),
        r"features\.win_length: must be a positive multiple of hop",
    ),
    "Mel band edge beyond Nyquist": (
        _recipe({"features": {"mel": {"f_max": 20000.0}}}),
        r"features\.mel\.f_max: must be <= 11025\.0 Hz",
    ),
    "unknown key": (
        _recipe({"optim": {"learning_rate": 0.1}}),
        r"unknown key 'optim\.learning_rate' \(allowed here: .*\blr\b",
    ),
    "string for a number": (_recipe({"optim": {"lr": "fast"}}), r"optim\.lr: expected a number, got str 'fast'"),
    "zero batch": (_recipe({"optim": {"batch_size": 0}}), r"optim\.batch_size: must be >= 1, got 0"),
    "negative steps": (_recipe({"optim": {"steps": -5}}), r"optim\.steps: must be >= 1, got -5"),
    "heads not dividing the width": (
        _recipe({"model": {"d_model": 15}}),
        r"model\.d_model: must be a multiple of n_heads \(2\), got 15",
    ),
    "malformed": (TINY.read_text() + "optim: [\n", r"malformed YAML at line \d+"),
    "key twice": (TINY.read_text() + "seed: 8\n", r"key 'seed' given twice \(first at line \d+\)"),
}


@pytest.mark.parametrize("text, message", TRAIN_CASES.values(), ids=TRAIN_CASES.keys())
def test_bad_training_recipes(text: str, message: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"damer train: error: {recipe}: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (a device whose writes fail: disk full)")
def test_log_on_a_full_disk_does_not_stop_the_stream(bundle_path: Path, tmp_path: Path, capsys) -> None:
    import soundfile

    from tests.robustness.corpus import RATE, good_audio

    music = tmp_path / "music.wav"
    soundfile.write(str(music), good_audio(), RATE, subtype="FLOAT")
    log = tmp_path / "full.csv"
    log.symlink_to("/dev/full")
    args = [
        "stream",
        "--input",
        str(music),
        "--pace",
        "fast",
        "--no-osc",
        "--model",
        str(bundle_path),
        "--log",
        str(log),
    ]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "stopped by: end of input" in captured.out and "updates: 39" in captured.out
    assert captured.err == (
        f"damer stream: log {log}: writing failed (No space left on device), the log is incomplete; "
        "the stream went on without it\n"
    )


def test_training_without_its_data_says_where_to_get_it_and_leaves_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    """4Q is not part of damer: a recipe naming it where it is not says where it comes from and where it
    goes, and the failed run leaves no empty output folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAMER_DATA", raising=False)
    data = yaml.safe_load(TINY.read_text())
    data["data"] = {"sources": [{"kind": "4q", "path": "4q"}]}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(data))
    assert main(["train", "recipe.yaml", "--out", "run", "--no-progress"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("damer train: error: data/4q: the 4Q dataset is not there. Download it")
    assert "http://mir.dei.uc.pt/downloads.html" in line and "--data-root DIR, else $DAMER_DATA" in line
    assert not (tmp_path / "run").exists()
    elsewhere = tmp_path / "datasets"
    assert main(["train", "recipe.yaml", "--out", "run", "--no-progress", "--data-root", str(elsewhere)]) == 2
    assert capsys.readouterr().err.startswith(f"damer train: error: {elsewhere / '4q'}: the 4Q dataset is not there")
    monkeypatch.setenv("DAMER_DATA", "other")
    assert main(["train", "recipe.yaml", "--out", "run", "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("damer train: error: other/4q: the 4Q dataset is not there")
    assert list(tmp_path.iterdir()) == [tmp_path / "recipe.yaml"]
