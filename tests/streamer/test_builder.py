"""Builder: what --input names, and which model bundle runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from damer_core.bundle import default_bundle_path
from damer_core.errors import BundleError
from streamer.builder import bundle_path, describe_bundle, looks_like_file


@pytest.mark.parametrize(
    ("text", "is_file"),
    [
        ("song.ogg", True),
        ("Song.FLAC", True),
        ("dir/take", True),
        ("missing.mp3", True),
        ("pulse", False),
        ("3", False),
        ("USB Audio 2.0", False),
        ("hw:1,0", False),
    ],
)
def test_input_names_a_file_or_a_device(text: str, is_file: bool) -> None:
    assert looks_like_file(text) is is_file


def test_default_bundle_missing_is_explained() -> None:
    if default_bundle_path().is_file():
        assert bundle_path("default") == default_bundle_path()
        return
    with pytest.raises(BundleError, match="default model bundle .* is not there yet.*--model PATH"):
        bundle_path("default")


def test_bundle_description_names_path_and_card(bundle, bundle_path: Path) -> None:
    line = describe_bundle(bundle)
    assert line.startswith(f"model: {bundle_path} (none: random initialisation; created ")
    assert line.endswith("randomly initialised, its outputs mean nothing")
