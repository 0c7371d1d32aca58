"""The config loader (YAML into frozen dataclasses) and FeatureSpec's dict form and hash."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from damer_core.config import from_mapping, load_config, to_mapping
from damer_core.errors import ConfigError
from damer_core.spec import CochleagramSpec, FeatureSpec, MelSpec, require


@dataclass(frozen=True)
class Inner:
    gain: float = 1.0
    mode: Literal["a", "b"] = "a"

    def __post_init__(self) -> None:
        require(0 <= self.gain <= 2, "gain", "in [0, 2]", self.gain)


@dataclass(frozen=True)
class Schema:
    """Exercises every supported field type."""

    name: str = "x"
    count: int = 3
    enabled: bool = True
    limit: float | None = None
    sizes: tuple[int, ...] = (1, 2)
    weights: dict[str, float] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)


def write(tmp_path, text: str):
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_schema_loads_with_conversions(tmp_path):
    path = write(
        tmp_path,
        "name: y\ncount: 4\nenabled: false\nlimit: 2\nsizes: [3, 4, 5]\n"
        "weights: {a: 1, b: 0.5}\ninner: {gain: 1.5, mode: b}\n",
    )
    loaded = load_config(path, Schema)
    assert loaded == Schema("y", 4, False, 2.0, (3, 4, 5), {"a": 1.0, "b": 0.5}, Inner(1.5, "b"))
    assert isinstance(loaded.limit, float) and isinstance(loaded.weights["a"], float)
    assert from_mapping(Schema, to_mapping(loaded)) == loaded


def test_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path, ""), Schema) == Schema()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("count: [1\n", r"malformed YAML at line 2"),
        ("- 1\n- 2\n", r"top level: expected a mapping, got list"),
        ("cuont: 3\n", r"unknown key 'cuont' \(allowed here: count, enabled"),
        ("inner: {gian: 1}\n", r"unknown key 'inner\.gian'"),
        ("count: three\n", r"count: expected an integer, got str 'three'"),
        ("count: 2.5\n", r"count: expected an integer, got float 2\.5"),
        ("enabled: 1\n", r"enabled: expected true or false, got int 1"),
        ("count: true\n", r"count: expected an integer, got boolean True"),
        ("limit: fast\n", r"limit: expected a number, got str 'fast'"),
        ("sizes: 3\n", r"sizes: expected a list, got int 3"),
        ("sizes: [1, x]\n", r"sizes\[1\]: expected an integer"),
        ("weights: {a: x}\n", r"weights\.a: expected a number"),
        ("inner: 3\n", r"inner: expected a mapping, got int 3"),
        ("inner: {mode: c}\n", r"inner\.mode: must be one of 'a', 'b', got 'c'"),
        ("inner: {gain: 7}\n", r"inner\.gain: must be in \[0, 2\], got 7\.0"),
    ],
)
def test_bad_config_names_the_file_and_the_key(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as caught:
        load_config(path, Schema)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_missing_and_binary_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"nothing\.yaml: cannot read config file"):
        load_config(tmp_path / "nothing.yaml", Schema)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ConfigError, match=r"binary\.yaml: not a text"):
        load_config(binary, Schema)


def test_feature_spec_from_yaml_with_range_errors_naming_the_dotted_key(tmp_path):
    path = write(tmp_path, "hop: 128\nwin_length: 1024\nmel: {n_mels: 64}\n")
    assert load_config(path, FeatureSpec) == FeatureSpec(hop=128, win_length=1024, mel=MelSpec(n_mels=64))
    for text, pattern in [
        ("mel: {n_mels: 0}\n", r"mel\.n_mels: must be > 0, got 0"),
        ("cochleagram: {f_max: 20000}\n", r"cochleagram\.f_max: must be < 11025\.0 Hz, got 20000\.0"),
        ("hop: 300\n", r"win_length: must be a positive multiple of hop \(300\), got 2048"),
        ("source: cd\n", r"source: must be one of 'audio', 'memo2496', got 'cd'"),
        ("mel: {norm: area}\n", r"mel\.norm"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            load_config(write(tmp_path, text), FeatureSpec)


def test_feature_spec_dict_round_trip():
    spec = FeatureSpec(
        sample_rate=16000,
        hop=160,
        win_length=640,
        mel=MelSpec(n_mels=40, f_min=20.0, f_max=7600.0, mel_scale="slaney", norm="slaney", log_floor=1e-8),
        cochleagram=CochleagramSpec(n_channels=32, f_min=60.0, f_max=7000.0, log_floor=1e-9),
        source="memo2496",
    )
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert FeatureSpec.from_dict(spec.to_dict()).hash() == spec.hash()
    with pytest.raises(ConfigError, match=r"feature spec: unknown key 'mel\.bins'"):
        FeatureSpec.from_dict({"mel": {"bins": 3}})


def test_hash_is_pinned_for_the_default_spec():
    # Bundles record this string: it must not drift between runs, processes or versions.
    assert FeatureSpec().hash() == "3e389f5c42d8d0b7"


def test_equal_specs_hash_equally_whatever_the_number_spelling():
    assert FeatureSpec(cochleagram=CochleagramSpec(f_min=50)).hash() == FeatureSpec().hash()
    assert FeatureSpec.from_dict({"mel": {"f_min": 0}}).hash() == FeatureSpec().hash()


@pytest.mark.parametrize(
    "changed",
    [
        {"sample_rate": 24000},
        {"hop": 512},
        {"win_length": 4096},
        {"source": "memo2496"},
        {"mel": MelSpec(n_mels=96)},
        {"mel": MelSpec(f_min=1.0)},
        {"mel": MelSpec(f_max=11000.0)},
        {"mel": MelSpec(mel_scale="slaney")},
        {"mel": MelSpec(norm="slaney")},
        {"mel": MelSpec(log_floor=1e-5)},
        {"cochleagram": CochleagramSpec(n_channels=64)},
        {"cochleagram": CochleagramSpec(f_min=40.0)},
        {"cochleagram": CochleagramSpec(f_max=9000.0)},
        {"cochleagram": CochleagramSpec(log_floor=1e-9)},
    ],
)
def test_hash_changes_with_every_field(changed):
    spec = dataclasses.replace(FeatureSpec(), **changed)
    assert spec.hash() != FeatureSpec().hash()
    assert len(FeatureSpec().describe_difference(spec)) == 1
