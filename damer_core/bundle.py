"""Model bundles: one safetensors file holding a trained DAMER model and everything needed to use it.

Layout: the tensors are the model's ``state_dict`` in float32 (weights and the input-normalisation
buffers). The safetensors metadata (str -> str) holds:

* ``format`` = ``"damer-bundle"`` and ``format_version`` = ``"1"``;
* ``model_config``: JSON of the :class:`~damer_core.model.ModelConfig`;
* ``feature_spec``: JSON of ``FeatureSpec.to_dict()`` and ``feature_spec_hash``: its ``FeatureSpec.hash()``;
* ``model_card``: JSON object (training data, metrics, date, code version, ...);
* ``weights_sha256``: checksum of the tensors (names, dtypes, shapes and bytes), so that a damaged file is
  refused rather than run.

Loading never unpickles anything. Every problem with a bundle is a :class:`BundleError` naming the file and
what is wrong.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from damer_core.atomic import atomic_path
from damer_core.config import from_mapping, to_mapping
from damer_core.errors import BundleError, ConfigError
from damer_core.model import DamerModel, ModelConfig
from damer_core.model.device import place_model
from damer_core.model.export import trace_step
from damer_core.model.streaming import StreamingDamer
from damer_core.shipped import DEFAULT_MODEL, shipped_model_path
from damer_core.spec import FeatureSpec

FORMAT = "damer-bundle"
FORMAT_VERSION = "1"
_REQUIRED_KEYS = (
    "format",
    "format_version",
    "model_config",
    "feature_spec",
    "feature_spec_hash",
    "model_card",
    "weights_sha256",
)


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: the model (eval mode, placed on its device), its spec, config and card."""

    model: DamerModel
    spec: FeatureSpec
    model_config: ModelConfig
    card: dict[str, Any]
    path: Path
    _step_traces: dict[int, torch.jit.ScriptModule] = field(default_factory=dict, repr=False, compare=False)

    def streaming(self, batch: int = 1) -> StreamingDamer:
        """A fresh :class:`~damer_core.model.streaming.StreamingDamer` running the model's traced step.

        The trace is built on the first call for each ``batch`` (about a second) and shared by every stream
        of this bundle after it (the model's weights never change once loaded), so analysing many files
        traces once.
        """
        if batch not in self._step_traces:
            self._step_traces[batch] = trace_step(self.model, batch)
        return StreamingDamer(self.model, batch, trace=self._step_traces[batch])


def default_bundle_path() -> Path:
    """Where the package's default trained model lives: ``damer_core/models/default.safetensors``."""
    return shipped_model_path(DEFAULT_MODEL)


def code_version() -> str:
    """Installed package version, plus ``+g<commit>`` when the package runs from a git checkout."""
    try:
        version = importlib.metadata.version("damer")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    try:
        result = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return version
    commit = result.stdout.strip()
    return f"{version}+g{commit}" if result.returncode == 0 and commit else version


def weights_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes, in name order (hex)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_bundle(path: str | Path, model: DamerModel, card: dict[str, Any]) -> Path:
    """Write ``model`` with its config, feature spec and ``card`` to ``path`` atomically.

    ``card`` is a JSON-serialisable mapping (training data, metrics, ...); ``created`` (UTC, ISO 8601) and
    ``code_version`` (see :func:`code_version`) are added unless the card has them. Weights are stored in
    float32 whatever the model's current dtype.

    Raises:
        BundleError: the card is not JSON-serialisable, or the file cannot be written.
    """
    path = Path(path)
    if not isinstance(card, dict) or not all(isinstance(key, str) for key in card):
        raise BundleError(f"{path}: model card must be a mapping with string keys")
    full_card = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        **card,
    }
    try:
        card_json = json.dumps(full_card, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{path}: model card is not JSON-serialisable ({exc})") from None
    tensors = {
        name: tensor.detach().to(device="cpu", dtype=torch.float32).contiguous()
        for name, tensor in model.state_dict().items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(to_mapping(model.config), sort_keys=True),
        "feature_spec": json.dumps(model.spec.to_dict(), sort_keys=True),
        "feature_spec_hash": model.spec.hash(),
        "model_card": card_json,
        "weights_sha256": weights_checksum(tensors),
    }
    try:
        with atomic_path(path) as temporary:
            safetensors.torch.save_file(tensors, str(temporary), metadata=metadata)
    except OSError as exc:
        raise BundleError(f"{path}: cannot write model bundle ({exc.strerror or exc})") from None
    return path


def load_bundle(path: str | Path, device: str = "auto", half: bool | None = None) -> Bundle:
    """Read and check a bundle, build its model and place it on ``device`` in eval mode.

    Args:
        path: the ``.safetensors`` bundle.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` (see :func:`damer_core.model.device.resolve_device`).
        half: float16 inference on CUDA; ``None`` takes the bundle config's ``half``.

    Raises:
        BundleError: missing, unreadable, truncated or corrupt file; missing or malformed metadata; unknown
            format version; a feature spec that does not match its hash; a config out of range; tensors
            missing, unexpected, of the wrong shape, or not finite.
        DeviceError: the device is not available.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such model bundle")
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata()
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (safetensors.SafetensorError, OSError) as exc:
        raise BundleError(f"{path}: {_unreadable_reason(path, exc)}") from None
    metadata = metadata or {}
    if metadata.get("format") != FORMAT:
        raise BundleError(f"{path}: not a damer model bundle (safetensors metadata lacks format={FORMAT!r})")
    if metadata.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {metadata['format_version']!r} is not supported "
            f"(this version of damer reads {FORMAT_VERSION!r})"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in metadata]
    if missing:
        raise BundleError(f"{path}: bundle metadata lacks {', '.join(missing)}")
    spec_data = _json(path, metadata, "feature_spec")
    config_data = _json(path, metadata, "model_config")
    card = _json(path, metadata, "model_card")
    try:
        spec = FeatureSpec.from_dict(spec_data)
        config = from_mapping(ModelConfig, config_data, where="model config")
    except ConfigError as exc:
        raise BundleError(f"{path}: {exc}") from None
    if spec.hash() != metadata["feature_spec_hash"]:
        raise BundleError(
            f"{path}: feature spec does not match its hash ({spec.hash()} != {metadata['feature_spec_hash']}); "
            "the metadata was altered"
        )
    if not isinstance(card, dict):
        raise BundleError(f"{path}: model card is not a JSON object")
    if weights_checksum(tensors) != metadata["weights_sha256"]:
        raise BundleError(f"{path}: weights do not match their checksum, file corrupt")
    model = DamerModel(config, spec)
    _check_tensors(path, model, tensors)
    model.load_state_dict(tensors)
    place_model(model, device, config.half if half is None else half)
    return Bundle(model=model.eval(), spec=spec, model_config=config, card=card, path=path)


def _unreadable_reason(path: Path, exc: BaseException) -> str:
    """Why safetensors could not read ``path``; a pickled model is named as such (and never unpickled)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as error:
        return f"cannot read the model bundle ({error.strerror or error})"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return (
            "a pickled PyTorch file (torch.save), not a safetensors model bundle; damer never unpickles model "
            "files (that can run arbitrary code); use a bundle written by damer train"
        )
    return f"not a readable model bundle, file corrupt or truncated ({exc})"


def _json(path: Path, metadata: dict[str, str], key: str) -> Any:
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: bundle metadata '{key}' is not valid JSON ({exc.msg} at {exc.pos})") from None


def _check_tensors(path: Path, model: DamerModel, tensors: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    for name, reference in expected.items():
        if name not in tensors:
            raise BundleError(f"{path}: tensor '{name}' is missing for this model config")
        if tuple(tensors[name].shape) != tuple(reference.shape):
            raise BundleError(
                f"{path}: tensor '{name}' has shape {tuple(tensors[name].shape)}, "
                f"the model config needs {tuple(reference.shape)}"
            )
        if not tensors[name].is_floating_point():
            raise BundleError(f"{path}: tensor '{name}' has dtype {tensors[name].dtype}, expected floating point")
        if not bool(torch.isfinite(tensors[name]).all()):
            raise BundleError(f"{path}: tensor '{name}' contains non-finite values")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise BundleError(f"{path}: tensor '{unexpected[0]}' is not part of this model config")


def check_live_spec(spec: FeatureSpec, frontend_spec: FeatureSpec | None = None) -> None:
    """Refuse a bundle whose features the live front-end cannot produce.

    Args:
        spec: the bundle's feature spec.
        frontend_spec: the spec the caller's front-end is fixed to, if it is; ``None`` when the front-end is
            built from ``spec`` (it then computes any spec whose source is audio).

    Raises:
        BundleError: ``spec.source`` is not ``"audio"`` (features taken from a dataset's precomputed arrays),
            or ``spec`` differs from ``frontend_spec``; the message names the mismatch.
    """
    if spec.source != "audio":
        raise BundleError(
            f"model was trained on precomputed {spec.source!r} features (feature spec source={spec.source!r}); "
            "the live front-end computes features from audio (source='audio'), so it cannot feed this model"
        )
    if frontend_spec is not None and frontend_spec != spec:
        differences = "; ".join(spec.describe_difference(frontend_spec))
        raise BundleError(f"model's feature spec differs from the front-end's (model != front-end): {differences}")


def random_bundle(
    path: str | Path, seed: int = 0, config: ModelConfig | None = None, spec: FeatureSpec | None = None
) -> Path:
    """Write a bundle of a randomly initialised model (seeded) to ``path``: for tests and benchmarks only;
    its outputs mean nothing. Returns the path."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DamerModel(config or ModelConfig(), spec or FeatureSpec())
    card = {"training_data": "none: random initialisation", "metrics": {}, "seed": seed}
    return save_bundle(path, model, card)
