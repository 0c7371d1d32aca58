"""Settings: configs/default.yaml is the schema's defaults; bad values name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from damer_core.errors import ConfigError
from streamer.settings import StreamSettings, load_settings

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def test_default_yaml_is_the_schema_default() -> None:
    assert load_settings(DEFAULT_YAML) == StreamSettings()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("engine:\n  max_lag_s: 5.0\n", "engine.max_lag_s"),
        ("engine:\n  ring_seconds: 0.1\n", "engine.ring_seconds"),
        ("input:\n  latency: fast\n", "input.latency"),
        ("input:\n  pace: slow\n", "input.pace"),
        ("osc:\n  targets: ['localhost']\n", "osc.targets[0]"),
        ("osc:\n  prefix: no-slash\n", "osc.prefix"),
        ("device: gpu\n", "device"),
        ("engine:\n  smoothing: 1\n", "engine.smoothing"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"bad\.yaml: .*{key.replace('[', '.').replace(']', '.')}"):
        load_settings(path)


def test_latency_accepts_seconds_or_named_defaults(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("input:\n  latency: low\n  source: '3'\nosc:\n  targets: ['[::1]:9000', 'show.local:7000']\n")
    settings = load_settings(path)
    assert settings.input.latency == "low" and settings.input.source == "3"
    assert settings.osc.targets == ("[::1]:9000", "show.local:7000")
