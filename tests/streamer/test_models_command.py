"""``damer models``: the shipped bundles by name with their cards' key figures; ``--model NAME`` picks one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from damer_core import shipped
from damer_core.cli import main


@pytest.fixture
def models_folder(tmp_path: Path, bundle_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder holding two bundles (the small test bundle twice) and a weights file."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(bundle_path, folder / "default.safetensors")
    shutil.copy(bundle_path, folder / "other.safetensors")
    (folder / "musicnn_student.safetensors").write_bytes(b"weights, not a bundle")
    monkeypatch.setattr(shipped, "MODELS_DIR", folder)
    return folder


def test_models_lists_every_shipped_bundle_default_first(models_folder: Path, capsys) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["default", "other"]
    assert rows[0]["default"] and not rows[1]["default"]
    assert rows[0]["views"] == ["mel", "cochleagram"] and rows[0]["pretrained_view"] is None
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"default (default): {models_folder / 'default.safetensors'}")
    assert "other: " in text and "pick one with --model NAME" in text


def test_model_name_picks_a_shipped_bundle(models_folder: Path) -> None:
    assert shipped.resolve_model("other") == models_folder / "other.safetensors"
    with pytest.raises(Exception, match="musicnn_student: no such model bundle"):
        shipped.resolve_model("musicnn_student")
