"""The model bundles shipped inside the package, by name, and the ``--model`` argument that picks one.

Light on purpose (no torch): commands resolve and check ``--model`` before loading anything heavy, so a
typo is reported at once.
"""

from __future__ import annotations

from pathlib import Path

from damer_core.errors import BundleError

MODELS_DIR = Path(__file__).resolve().parent / "models"
"""Where the shipped bundles live: ``damer_core/models/<name>.safetensors``."""

DEFAULT_MODEL = "default"
WEIGHTS_FILES = ("musicnn_msd", "musicnn_student")
"""Files in the models folder that are network weights the bundles use, not bundles themselves."""


def shipped_models_dir() -> Path:
    """The folder of the shipped bundles (:data:`MODELS_DIR`, read at call time)."""
    return MODELS_DIR


def shipped_model_names() -> list[str]:
    """Names of the bundles shipped with this copy, the default first."""
    names = sorted(path.stem for path in MODELS_DIR.glob("*.safetensors") if path.stem not in WEIGHTS_FILES)
    return sorted(names, key=lambda name: name != DEFAULT_MODEL)


def shipped_model_path(name: str = DEFAULT_MODEL) -> Path:
    """The file of the shipped bundle ``name`` (it may not exist in a copy without trained models)."""
    return MODELS_DIR / f"{name}.safetensors"


def resolve_model(model: str) -> Path:
    """``--model``: the name of a shipped bundle, or the path of a bundle file.

    Raises:
        BundleError: neither a shipped bundle nor an existing file.
    """
    names = shipped_model_names()
    if model in names:
        return shipped_model_path(model)
    if model == DEFAULT_MODEL:
        raise BundleError(
            f"the default model bundle {shipped_model_path()} is not there (no trained model shipped with this "
            "copy); pass --model PATH to a bundle file"
        )
    path = Path(model).expanduser()
    if path.is_dir():
        raise BundleError(f"{path}: a folder, not a model bundle file")
    if not path.is_file():
        shipped = ", ".join(names) or "none"
        raise BundleError(f"{model}: no such model bundle (not a file, nor a shipped model: {shipped})")
    return path
