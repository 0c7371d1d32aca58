"""ModelConfig: loading from mappings, range checks with the key named."""

from __future__ import annotations

import re

import pytest

from damer_core.config import from_mapping, to_mapping
from damer_core.errors import ConfigError
from damer_core.model import ModelConfig


def test_round_trip_through_mapping() -> None:
    config = ModelConfig(d_model=64, n_heads=2, views=("cochleagram",), fusion="concat", half=True)
    assert from_mapping(ModelConfig, to_mapping(config)) == config


def test_lists_become_tuples() -> None:
    config = from_mapping(ModelConfig, {"views": ["mel"]})
    assert config.views == ("mel",)


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({"d_model": 90, "n_heads": 4}, "d_model"),
        ({"n_heads": 0}, "n_heads"),
        ({"frames_per_token": 0}, "frames_per_token"),
        ({"encoder_blocks": 0}, "encoder_blocks"),
        ({"window_tokens": 0}, "window_tokens"),
        ({"fusion_window_tokens": 0}, "fusion_window_tokens"),
        ({"dropout": 1.0}, "dropout"),
        ({"views": []}, "views"),
        ({"views": ["mel", "mel"]}, "views"),
        ({"views": ["spectrogram"]}, "views[0]"),
        ({"fusion": "sum"}, "fusion"),
        ({"device": "tpu"}, "device"),
        ({"half": "yes"}, "half"),
        ({"d_modle": 96}, "d_modle"),
    ],
)
def test_bad_values_name_their_key(mapping: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=r"model\.yaml: .*" + re.escape(key)):
        from_mapping(ModelConfig, mapping, where="model.yaml")
