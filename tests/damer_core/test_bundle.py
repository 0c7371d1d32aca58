"""Model bundles: round trip, card, atomic writing, and a clear BundleError for every kind of bad file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

from damer_core.bundle import (
    FORMAT_VERSION,
    check_live_spec,
    default_bundle_path,
    load_bundle,
    random_bundle,
    save_bundle,
    weights_checksum,
)
from damer_core.config import to_mapping
from damer_core.errors import BundleError, DeviceError
from damer_core.model import DamerModel, ModelConfig
from damer_core.model.export import trace_step
from damer_core.spec import CochleagramSpec, FeatureSpec

SMALL = ModelConfig(d_model=16, n_heads=2, encoder_blocks=2, window_tokens=6, fusion_window_tokens=3, embed_dim=8)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return random_bundle(tmp_path / "model.safetensors", seed=3, config=SMALL)


def rewrite(
    path: Path,
    tensors: Callable[[dict[str, torch.Tensor]], None] = lambda t: None,
    metadata: Callable[[dict[str, str]], None] = lambda m: None,
) -> Path:
    """Let the callbacks edit the bundle's tensors and metadata in place, then write the file back with a
    checksum matching the edited tensors (so that the checks behind the checksum are reached)."""
    with safetensors.safe_open(str(path), framework="pt") as handle:
        found_metadata = dict(handle.metadata())
        found_tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    tensors(found_tensors)
    found_metadata["weights_sha256"] = weights_checksum(found_tensors)
    metadata(found_metadata)
    safetensors.torch.save_file(found_tensors, str(path), metadata=found_metadata)
    return path


def test_round_trip_keeps_outputs_config_spec_and_card(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = FeatureSpec(cochleagram=CochleagramSpec(n_channels=64))
    model = DamerModel(SMALL, spec).eval()
    model.set_input_stats(
        torch.full((128,), -4.0), torch.full((128,), 2.0), torch.full((64,), -7.0), torch.full((64,), 3.0)
    )
    card = {"training_data": ["4q (development split)"], "metrics": {"arousal_accuracy": 0.9}}
    path = save_bundle(tmp_path / "sub" / "trained.safetensors", model, card)
    assert not list(path.parent.glob(".*.tmp"))

    loaded = load_bundle(path, device="cpu")
    assert loaded.path == path and loaded.spec == spec and loaded.model_config == SMALL
    assert not loaded.model.training
    assert loaded.card["training_data"] == card["training_data"] and loaded.card["metrics"] == card["metrics"]
    assert loaded.card["code_version"].startswith("0.") and loaded.card["created"][:2] == "20"
    mel, coch = torch.randn(1, 30, 128) - 4, torch.randn(1, 30, 64) - 7
    with torch.no_grad():
        expected, actual = model(mel, coch), loaded.model(mel, coch)
    assert torch.equal(expected.va, actual.va) and torch.equal(expected.embedding, actual.embedding)
    assert torch.equal(loaded.model.encoders["cochleagram"].std, torch.full((64,), 3.0))


def test_metadata_is_plain_json(bundle: Path) -> None:
    with safetensors.safe_open(str(bundle), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "damer-bundle" and metadata["format_version"] == FORMAT_VERSION
    assert json.loads(metadata["model_config"]) == to_mapping(SMALL)
    assert json.loads(metadata["feature_spec"]) == FeatureSpec().to_dict()
    assert metadata["feature_spec_hash"] == FeatureSpec().hash()


def test_saving_over_a_bundle_replaces_it_whole(bundle: Path) -> None:
    first = bundle.read_bytes()
    random_bundle(bundle, seed=4, config=SMALL)
    assert bundle.read_bytes() != first
    assert load_bundle(bundle).card["seed"] == 4


def test_card_must_be_json(tmp_path: Path) -> None:
    model = DamerModel(SMALL, FeatureSpec())
    with pytest.raises(BundleError, match="not JSON-serialisable"):
        save_bundle(tmp_path / "x.safetensors", model, {"metrics": {"auc": float("nan")}})
    assert not list(tmp_path.iterdir())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such model bundle"):
        load_bundle(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("keep", [0, 7, 100, 0.5, 0.999])
def test_truncated_file(bundle: Path, keep: float) -> None:
    data = bundle.read_bytes()
    bundle.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(BundleError, match="not a readable model bundle, file corrupt or truncated"):
        load_bundle(bundle)


def test_garbage_file(bundle: Path) -> None:
    bundle.write_bytes(b"\x00not a bundle at all" * 50)
    with pytest.raises(BundleError, match="file corrupt or truncated"):
        load_bundle(bundle)


def test_flipped_weight_byte(bundle: Path) -> None:
    data = bytearray(bundle.read_bytes())
    data[-1000] ^= 0x40
    bundle.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="weights do not match their checksum"):
        load_bundle(bundle)


def test_plain_safetensors_file_is_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"weight": torch.zeros(3)}, str(path))
    with pytest.raises(BundleError, match="not a damer model bundle"):
        load_bundle(path)


def test_unknown_format_version(bundle: Path) -> None:
    rewrite(bundle, metadata=lambda m: m.update(format_version="7"))
    with pytest.raises(BundleError, match="format version '7' is not supported"):
        load_bundle(bundle)


def test_missing_metadata_key(bundle: Path) -> None:
    rewrite(bundle, metadata=lambda m: m.pop("model_card"))
    with pytest.raises(BundleError, match="metadata lacks model_card"):
        load_bundle(bundle)


def test_malformed_json(bundle: Path) -> None:
    rewrite(bundle, metadata=lambda m: m.update(model_config='{"d_model": 16,'))
    with pytest.raises(BundleError, match="'model_config' is not valid JSON"):
        load_bundle(bundle)


def test_spec_not_matching_its_hash(bundle: Path) -> None:
    altered = FeatureSpec(hop=512).to_dict()
    rewrite(bundle, metadata=lambda m: m.update(feature_spec=json.dumps(altered)))
    with pytest.raises(BundleError, match="feature spec does not match its hash"):
        load_bundle(bundle)


def test_config_out_of_range(bundle: Path) -> None:
    config = to_mapping(SMALL) | {"n_heads": 3}
    rewrite(bundle, metadata=lambda m: m.update(model_config=json.dumps(config)))
    with pytest.raises(BundleError, match="model config: d_model: must be a multiple of n_heads"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.update({"head.linear.weight": torch.zeros(4, 17)}),
            r"'head.linear.weight' has shape \(4, 17\), the model config needs \(4, 16\)",
        ),
        (lambda t: t.pop("temporal.1.attention.distance_bias"), "'temporal.1.attention.distance_bias' is missing"),
        (lambda t: t.update({"extra.weight": torch.zeros(2)}), "'extra.weight' is not part of this model config"),
        (lambda t: t["encoders.mel.std"].fill_(float("inf")), "'encoders.mel.std' contains non-finite values"),
    ],
)
def test_tensors_not_fitting_the_config(bundle: Path, edit: Callable, message: str) -> None:
    rewrite(bundle, tensors=edit)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_bundle_device_errors_are_device_errors(bundle: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    with pytest.raises(DeviceError):
        load_bundle(bundle, device="cuda")


def test_live_spec_check() -> None:
    check_live_spec(FeatureSpec())
    check_live_spec(FeatureSpec(hop=512), FeatureSpec(hop=512))
    with pytest.raises(BundleError, match="precomputed 'memo2496' features"):
        check_live_spec(FeatureSpec(source="memo2496"))
    with pytest.raises(BundleError, match="hop: 512 != 256"):
        check_live_spec(FeatureSpec(hop=512), FeatureSpec())


def test_memo2496_bundle_loads_for_offline_use_but_not_live(tmp_path: Path) -> None:
    path = random_bundle(tmp_path / "memo.safetensors", config=SMALL, spec=FeatureSpec(source="memo2496"))
    loaded = load_bundle(path)
    with pytest.raises(BundleError, match="source='memo2496'"):
        check_live_spec(loaded.spec)


def test_default_bundle_lives_in_the_package() -> None:
    import damer_core

    assert default_bundle_path() == Path(damer_core.__file__).resolve().parent / "models" / "default.safetensors"


def test_streams_of_a_bundle_share_one_trace_and_match_the_eager_step(bundle: Path, monkeypatch) -> None:
    loaded = load_bundle(bundle, device="cpu")
    traces = []
    monkeypatch.setattr("damer_core.bundle.trace_step", lambda *args: traces.append(trace_step(*args)) or traces[-1])
    mel, coch = torch.randn(1, 41, 128) - 4, torch.randn(1, 41, 84) - 7
    eager = loaded.model.streaming().push(mel, coch)
    for _ in range(3):
        stream = loaded.streaming()
        first = stream.push(mel[:, :17], coch[:, :17])
        rest = stream.push(mel[:, 17:], coch[:, 17:])
        assert stream.tokens == eager.va.shape[1]
        torch.testing.assert_close(torch.cat((first.va, rest.va), dim=1), eager.va, rtol=1e-5, atol=1e-5)
    assert len(traces) == 1
