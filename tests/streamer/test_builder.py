"""Builder: what --input names, and which model bundle runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from damer_core import shipped
from damer_core.bundle import default_bundle_path
from damer_core.errors import BundleError
from damer_core.shipped import resolve_model
from streamer.builder import describe_bundle
from streamer.sources.kinds import looks_like_file


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


def test_model_names_a_shipped_bundle_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model("default") == default_bundle_path()
    bundle_file = tmp_path / "mine.safetensors"
    bundle_file.write_bytes(b"")
    assert resolve_model(str(bundle_file)) == bundle_file
    with pytest.raises(BundleError, match="nosuch: no such model bundle .*shipped model: default"):
        resolve_model("nosuch")
    with pytest.raises(BundleError, match="a folder, not a model bundle file"):
        resolve_model(str(tmp_path))
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path / "empty")
    with pytest.raises(BundleError, match="default model bundle .* is not there.*--model PATH"):
        resolve_model("default")


def test_bundle_description_names_path_and_card(bundle, bundle_path: Path) -> None:
    line = describe_bundle(bundle)
    assert line.startswith(f"model: {bundle_path} (none: random initialisation; created ")
    assert line.endswith("randomly initialised, its outputs mean nothing")


def test_a_shipped_bundle_is_named(bundle_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from damer_core.bundle import load_bundle

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(bundle_path, folder / "calm.safetensors")
    monkeypatch.setattr(shipped, "MODELS_DIR", folder)
    line = describe_bundle(load_bundle(resolve_model("calm"), device="cpu"))
    assert line.startswith(f"model: 'calm' (shipped) {folder / 'calm.safetensors'} (")
