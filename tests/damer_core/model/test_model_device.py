"""Device choice and precision; the CUDA tests run only where CUDA exists."""

from __future__ import annotations

import pytest
import torch

from damer_core.errors import DeviceError
from damer_core.model.device import place_model, resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="unknown compute device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match="'cuda' requested but CUDA is not available"):
        resolve_device("cuda")


def test_half_is_ignored_on_the_cpu(make_model) -> None:
    model = place_model(make_model(), "cpu", half=True)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {b.dtype for b in model.buffers()} == {torch.float32}


@needs_cuda
def test_cuda_streaming_equals_cpu_offline(make_model, make_frames, rel_err) -> None:
    model = make_model()
    mel, coch = make_frames(3 * 12 * 2 + 1, batch=2)
    with torch.no_grad():
        expected = model(mel, coch)
    place_model(model, "cuda")
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        streamer = model.streaming(batch=2)
        outputs = [streamer.push(mel[:, i : i + 5], coch[:, i : i + 5]) for i in range(0, mel.shape[1], 5)]
        with torch.no_grad():
            offline_cuda = model(mel.cuda(), coch.cuda())
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    streamed = torch.cat([o.va for o in outputs], dim=1)
    assert streamed.device.type == "cuda"
    assert rel_err(streamed.cpu(), expected.va) < 1e-5
    assert rel_err(offline_cuda.va.cpu(), expected.va) < 1e-5


@needs_cuda
def test_half_precision_on_cuda_stays_close(make_model, make_frames) -> None:
    model = make_model()
    mel, coch = make_frames(60)
    with torch.no_grad():
        expected = model(mel, coch).va
    place_model(model, "cuda", half=True)
    assert {p.dtype for p in model.parameters()} == {torch.float16}
    output = model.streaming().push(mel[0], coch[0])
    assert output.va.dtype == torch.float16
    assert torch.isfinite(output.va).all()
    assert (output.va.float().cpu() - expected).abs().max() < 0.05
