"""The one place that turns settings into objects: model bundle, source, outputs, engine."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import torch

from damer_core.bundle import Bundle, check_live_spec, load_bundle
from damer_core.errors import BundleError, DamerError, DeviceError
from damer_core.features.frontend import FrontEnd
from damer_core.shipped import resolve_model, shipped_models_dir
from damer_core.spec import FeatureSpec
from streamer.engine import Engine
from streamer.log_out import open_log
from streamer.meter import TerminalMeter
from streamer.monitor.emitter import open_monitor, open_ws
from streamer.osc import OscEmitter
from streamer.ring import RingBuffer
from streamer.settings import InputSettings, StreamSettings
from streamer.sources.base import Pace, Source
from streamer.sources.devices import find_input_device
from streamer.sources.file import SoundFileReader, file_source
from streamer.sources.kinds import looks_like_file
from streamer.sources.live import LiveSource
from streamer.sources.stdin import stdin_source
from streamer.update import Emitter

DEMO_CLIP = Path(__file__).resolve().parent / "data" / "demo.ogg"
"""The demo clip shipped with the package (see ``streamer/data/README.md``)."""

REALTIME_FILE_BLOCK = 256
"""Frames per block when a file or stdin is delivered at real-time pace and ``input.blocksize`` is 0."""

FAST_BLOCK = 16384
"""Frames per read when a file or stdin is read as fast as possible."""

RingFactory = Callable[[int], RingBuffer]


# ---------------------------------------------------------------------------------------------- model


def load_model(model: str, device: str) -> Bundle:
    """Load the bundle named by ``model`` on ``device`` and check that the live front-end can feed it.

    Raises:
        BundleError: missing, corrupt or incompatible bundle.
        DeviceError: the compute device is not available.
    """
    bundle = load_bundle(resolve_model(model), device)
    try:
        check_live_spec(bundle.spec)
    except BundleError as exc:
        raise BundleError(f"{bundle.path}: {exc}") from None
    return bundle


def describe_bundle(bundle: Bundle) -> str:
    """One line: the bundle's name when it is a shipped one, its path and a summary of its card (training
    data, date, code version)."""
    card: dict[str, Any] = bundle.card
    parts = [str(card.get("training_data", "training data not recorded"))]
    if "created" in card:
        parts.append(f"created {card['created']}")
    if "code_version" in card:
        parts.append(f"code {card['code_version']}")
    device = next(bundle.model.parameters()).device
    shipped = bundle.path.resolve().parent == shipped_models_dir().resolve()
    name = f"'{bundle.path.stem}' (shipped) " if shipped else ""
    line = f"model: {name}{bundle.path} ({'; '.join(parts)}) on {device}"
    if str(card.get("training_data", "")).startswith("none"):
        line += " -- randomly initialised, its outputs mean nothing"
    return line


# ---------------------------------------------------------------------------------------------- sources


def open_source(
    settings: InputSettings,
    spec: FeatureSpec,
    ring_seconds: float,
    stdin: BinaryIO | None = None,
    ring_factory: RingFactory = RingBuffer,
) -> Source:
    """The source named by ``settings.source``: ``None`` (default input device), ``"-"`` (stdin), a sound
    file, or a device index / name substring.

    Raises:
        AudioError: a file that cannot be read as audio.
        DeviceError: no such device, no PortAudio, or the device cannot be opened.
    """
    text = settings.source
    pace: Pace = settings.pace
    if text == "-":
        block = settings.blocksize or (REALTIME_FILE_BLOCK if pace == "realtime" else FAST_BLOCK)
        rate = settings.stdin_rate or spec.sample_rate
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stdin_source(stream, rate, settings.stdin_channels, pace, ring_seconds, block, ring_factory)
    if text is not None and looks_like_file(text):
        block = settings.blocksize or (REALTIME_FILE_BLOCK if pace == "realtime" else FAST_BLOCK)
        return file_source(SoundFileReader(text), pace, ring_seconds, block, ring_factory)
    device = find_input_device(text)
    return LiveSource(
        device, spec.sample_rate, settings.latency, settings.channels, settings.blocksize, ring_seconds, ring_factory
    )


@dataclass(frozen=True)
class Fallback:
    """Why the default input could not be used (shown on the terminal when the demo clip plays instead)."""

    reason: str


def open_default_or_demo(
    settings: InputSettings, spec: FeatureSpec, ring_seconds: float
) -> tuple[Source, Fallback | None]:
    """The default input device; when there is none (or no PortAudio), the demo clip at real-time pace."""
    try:
        return open_source(settings, spec, ring_seconds), None
    except DeviceError as exc:
        block = settings.blocksize or REALTIME_FILE_BLOCK
        return file_source(SoundFileReader(DEMO_CLIP), "realtime", ring_seconds, block), Fallback(str(exc))


# ---------------------------------------------------------------------------------------------- engine


def build_emitters(
    settings: StreamSettings, meter_stream: TextIO | None, monitor: bool = False, model: str = ""
) -> list[Emitter]:
    """OSC (when enabled), the log file (when set), the monitor (when ``monitor``; its page names ``model``),
    the WebSocket output (when enabled) and the terminal meter (when ``meter_stream`` is given).

    Raises:
        ConfigError: malformed OSC target or prefix, bad log file name.
        DeviceError: an OSC host that does not resolve; a monitor or WebSocket port in use.
    """
    emitters: list[Emitter] = []
    try:
        if settings.osc.enabled:
            emitters.append(OscEmitter(settings.osc.targets, settings.osc.prefix))
        if settings.log.path is not None:
            emitters.append(open_log(settings.log.path))
        if monitor:
            emitters.append(open_monitor(settings.monitor, model))
        if settings.ws.enabled:
            emitters.append(open_ws(settings.ws))
    except DamerError:
        for emitter in emitters:
            emitter.close()
        raise
    if meter_stream is not None:
        emitters.append(TerminalMeter(meter_stream))
    return emitters


def build_engine(
    bundle: Bundle,
    source: Source,
    emitters: Sequence[Emitter],
    smoothing_s: float,
    max_lag_s: float,
    duration_s: float | None = None,
) -> Engine:
    """An engine running ``bundle``'s model on ``source`` with fresh streaming state (the model's step runs as
    a TorchScript trace, built once per bundle: less Python overhead per update)."""
    return Engine(
        source,
        FrontEnd(bundle.spec),
        bundle.streaming(),
        bundle.spec,
        emitters,
        smoothing_s=smoothing_s,
        max_lag_s=max_lag_s,
        duration_s=duration_s,
    )


def set_threads(n: int) -> None:
    """Intra-op threads of torch for this process (1: lowest latency jitter on a busy machine)."""
    torch.set_num_threads(n)
