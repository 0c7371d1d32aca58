"""The causal, windowed DAMER model: config, network, streaming wrapper, devices and export."""

from damer_core.model.config import ModelConfig
from damer_core.model.damer import DamerModel
from damer_core.model.device import place_model, resolve_device
from damer_core.model.export import export_step, trace_step
from damer_core.model.output import DamerOutput
from damer_core.model.streaming import StreamingDamer

__all__ = [
    "DamerModel",
    "DamerOutput",
    "ModelConfig",
    "StreamingDamer",
    "export_step",
    "place_model",
    "resolve_device",
    "trace_step",
]
