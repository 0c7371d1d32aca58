"""Settings of ``damer stream`` / ``damer analyze``: the schema of ``configs/default.yaml``.

Frozen dataclasses loaded with :func:`damer_core.config.load_config`; unknown keys, wrong types and
out-of-range values are :class:`~damer_core.errors.ConfigError` naming the file and the dotted key. The
defaults here are the defaults of ``configs/default.yaml``; command-line flags override both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from damer_core.config import load_config
from damer_core.errors import ConfigError
from damer_core.spec import require
from streamer.monitor.address import parse_listen_address
from streamer.monitor.policy import check_origin
from streamer.osc import DEFAULT_PREFIX, check_prefix, parse_target


@dataclass(frozen=True)
class EngineSettings:
    """The engine between the ring buffer and the outputs.

    Attributes:
        smoothing_s: time constant of the one-pole smoothing of the outputs, in seconds; 0 = off.
        ring_seconds: capacity of the ring buffer between the audio source and the engine, in seconds.
        max_lag_s: with a real-time source, when more than this much audio waits in the ring the engine
            skips to the newest audio (and counts the skipped seconds).
        torch_threads: intra-op threads for the model and front-end (1 gives the lowest latency jitter).
    """

    smoothing_s: float = 0.0
    ring_seconds: float = 4.0
    max_lag_s: float = 0.25
    torch_threads: int = 1

    def __post_init__(self) -> None:
        require(0.0 <= self.smoothing_s <= 60.0, "smoothing_s", "in [0, 60] seconds", self.smoothing_s)
        require(0.5 <= self.ring_seconds <= 600.0, "ring_seconds", "in [0.5, 600] seconds", self.ring_seconds)
        require(
            0.15 <= self.max_lag_s < self.ring_seconds,
            "max_lag_s",
            f"in [0.15, ring_seconds = {self.ring_seconds}) seconds",
            self.max_lag_s,
        )
        require(1 <= self.torch_threads <= 64, "torch_threads", "in 1..64", self.torch_threads)


@dataclass(frozen=True)
class InputSettings:
    """Where the audio comes from.

    Attributes:
        source: ``null`` = the default input device (or the demo clip when there is none); a device index or
            name substring; a sound file; ``"-"`` for raw float32 on stdin.
        pace: ``"realtime"`` (files and stdin delivered at the pace of the audio) or ``"fast"``.
        latency: suggested input latency of the sound card in seconds, or ``"low"`` / ``"high"`` for the
            device's defaults.
        channels: input channels to record and average to mono; ``null`` = up to 2.
        blocksize: frames per audio callback; 0 lets PortAudio choose. Files and stdin at real-time pace are
            delivered in blocks of this size (256 when 0).
        stdin_rate: sample rate of raw samples on stdin in Hz; ``null`` = the model's rate.
        stdin_channels: interleaved channels of raw samples on stdin.
    """

    source: str | None = None
    pace: Literal["realtime", "fast"] = "realtime"
    latency: float | Literal["low", "high"] = 0.02
    channels: int | None = None
    blocksize: int = 0
    stdin_rate: int | None = None
    stdin_channels: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.latency, str):
            require(0.0 < self.latency <= 2.0, "latency", "in (0, 2] seconds or 'low'/'high'", self.latency)
        require(self.channels is None or 1 <= self.channels <= 64, "channels", "null or 1..64", self.channels)
        require(0 <= self.blocksize <= 65536, "blocksize", "in 0..65536 frames", self.blocksize)
        require(
            self.stdin_rate is None or 1000 <= self.stdin_rate <= 768000,
            "stdin_rate",
            "null or 1000..768000 Hz",
            self.stdin_rate,
        )
        require(1 <= self.stdin_channels <= 64, "stdin_channels", "in 1..64", self.stdin_channels)


@dataclass(frozen=True)
class OscSettings:
    """OSC output (see :mod:`streamer.osc` for the address space and timetags).

    Attributes:
        enabled: send OSC at all.
        targets: ``host:port`` destinations; every update goes to each.
        prefix: address prefix of every message.
    """

    enabled: bool = True
    targets: tuple[str, ...] = ("127.0.0.1:9000",)
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        require(len(self.targets) >= 1 or not self.enabled, "targets", "at least one HOST:PORT", list(self.targets))
        for i, target in enumerate(self.targets):
            try:
                parse_target(target)
            except ConfigError as exc:
                raise ConfigError(f"targets[{i}]: {exc}") from None
        try:
            check_prefix(self.prefix)
        except ConfigError as exc:
            raise ConfigError(f"prefix: {exc}") from None


@dataclass(frozen=True)
class LogSettings:
    """Log file of every update.

    Attributes:
        path: ``null`` = no log; a path ending in ``.csv`` or ``.jsonl``.
    """

    path: str | None = None


def _check_web(address: str, allow_origin: tuple[str, ...]) -> None:
    """Raise a :class:`ConfigError` naming ``address`` or ``allow_origin[i]`` when malformed."""
    try:
        parse_listen_address(address)
    except ConfigError as exc:
        raise ConfigError(f"address: {exc}") from None
    for i, origin in enumerate(allow_origin):
        try:
            check_origin(origin)
        except ConfigError as exc:
            raise ConfigError(f"allow_origin[{i}]: {exc}") from None


@dataclass(frozen=True)
class MonitorSettings:
    """The live monitor: a page showing the stream in a browser (:mod:`streamer.monitor`).

    Attributes:
        enabled: ``true``, ``false``, or ``"auto"``: on when ``damer stream``'s standard output is a terminal.
        address: ``[HOST:]PORT`` the page is served on; without a host 127.0.0.1 (this machine only); port 0 =
            any free port (the command prints the URL).
        allow_origin: web origins (``http://host:port``, or ``null``) whose pages may also open the monitor's
            WebSocket; its own page always may.
    """

    enabled: bool | str = "auto"
    address: str = "127.0.0.1:8765"
    allow_origin: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require(self.enabled in (True, False, "auto"), "enabled", "true, false or auto", self.enabled)
        _check_web(self.address, self.allow_origin)

    def wanted(self, interactive: bool) -> bool:
        """Whether to serve the monitor, ``interactive`` being True when standard output is a terminal."""
        return interactive if self.enabled == "auto" else bool(self.enabled)


@dataclass(frozen=True)
class WsSettings:
    """WebSocket output: every update as one JSON message, for web pages and other WebSocket clients
    (:mod:`streamer.monitor.feed`).

    Attributes:
        enabled: serve it.
        address: ``[HOST:]PORT`` to listen on; without a host 127.0.0.1; port 0 = any free port.
        allow_origin: web origins (``http://host:port``, or ``null`` for pages opened from a file) whose pages
            may connect; clients that are not browsers send no origin and may always connect.
    """

    enabled: bool = False
    address: str = "127.0.0.1:8766"
    allow_origin: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_web(self.address, self.allow_origin)


@dataclass(frozen=True)
class StreamSettings:
    """Everything ``damer stream`` needs.

    Attributes:
        model: ``"default"`` (the bundle shipped with the package) or the path of a bundle file.
        device: compute device for the model: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        meter: show the live meter line when standard output is a terminal.
    """

    model: str = "default"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    meter: bool = True
    engine: EngineSettings = field(default_factory=EngineSettings)
    input: InputSettings = field(default_factory=InputSettings)
    osc: OscSettings = field(default_factory=OscSettings)
    log: LogSettings = field(default_factory=LogSettings)
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    ws: WsSettings = field(default_factory=WsSettings)

    def __post_init__(self) -> None:
        require(bool(self.model.strip()), "model", "'default' or a bundle path", self.model)


def load_settings(path: str | Path | None) -> StreamSettings:
    """Settings from a YAML file, or the defaults when ``path`` is None.

    Raises:
        ConfigError: unreadable or malformed file, unknown key, wrong type or out-of-range value.
    """
    return StreamSettings() if path is None else load_config(path, StreamSettings)
