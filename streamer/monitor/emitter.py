"""The engine outputs of the web: the live monitor (``--monitor``) and the WebSocket output (``--ws``).

Both do only this on the engine thread: copy the update (the engine reuses its instance) and hand it to their
server (:meth:`~streamer.monitor.server.WebServer.submit`), which never waits. Encoding and sending happen on
the server's thread.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from streamer.monitor.address import parse_listen_address
from streamer.monitor.assets import load_assets
from streamer.monitor.feed import Ended, MonitorFeed, Sample, UpdateFeed
from streamer.monitor.policy import AccessPolicy
from streamer.monitor.server import WebServer
from streamer.update import StreamInfo, Update

if TYPE_CHECKING:
    from streamer.engine import RunSummary
    from streamer.settings import MonitorSettings, WsSettings

MONITOR_WS_PATH = "/ws"
MONITOR_INBOX = 8192
"""Updates kept for a page that connects later (it is sent the last minute of them): 3 minutes at 43 per second."""


class WsEmitter:
    """Sends every update as one JSON message to each WebSocket client (:class:`~streamer.monitor.feed.UpdateFeed`).

    Args:
        server: a started server whose channel is an :class:`~streamer.monitor.feed.UpdateFeed`.
    """

    def __init__(self, server: WebServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url("ws")

    def begin(self, info: StreamInfo) -> None:
        """Nothing to tell the clients."""

    def emit(self, update: Update) -> None:
        self.server.submit(copy.copy(update))

    def close(self) -> None:
        self.server.close()


class MonitorEmitter:
    """Feeds the monitor's page (:class:`~streamer.monitor.feed.MonitorFeed`).

    Args:
        server: a started server whose channel is ``feed``.
        feed: the page's messages.
        wall_clock: Unix time in seconds (for the age of real-time updates).
        clock: the monotonic clock of ``feed``, in seconds.
    """

    def __init__(
        self,
        server: WebServer,
        feed: MonitorFeed,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self._feed = feed
        self._wall_clock = wall_clock
        self._clock = clock
        self._origin: float | None = None
        self._summary: RunSummary | None = None

    @property
    def url(self) -> str:
        return self.server.url("http")

    def watch(self, summary: RunSummary) -> None:
        """Show the engine's overruns and skips: ``summary`` is read on the engine thread at each update."""
        self._summary = summary

    def begin(self, info: StreamInfo) -> None:
        self._origin = info.origin_unix
        self.server.call(self._feed.begin, info)

    def emit(self, update: Update) -> None:
        lag = None if self._origin is None else self._wall_clock() - self._origin - update.time
        self.server.submit(Sample(copy.copy(update), self._clock(), lag, *self._totals()))

    def _totals(self) -> tuple[float, float, int]:
        """The engine's overrun seconds, skipped seconds and skips so far."""
        summary = self._summary
        return (0.0, 0.0, 0) if summary is None else (summary.overrun_s, summary.skipped_s, summary.skips)

    def close(self) -> None:
        self.server.submit(Ended(self._summary.stopped_by if self._summary is not None else ""))
        self.server.close()


def open_monitor(settings: MonitorSettings, model: str) -> MonitorEmitter:
    """Start the monitor's server at ``settings.address``; ``model`` is the line naming the model bundle.

    Raises:
        ConfigError: a malformed address or origin.
        DeviceError: the address cannot be listened on (a port in use, a host that is not this machine's).
    """
    address = parse_listen_address(settings.address)
    feed = MonitorFeed(model)
    server = WebServer(
        address,
        feed,
        AccessPolicy.build(address, settings.allow_origin, same_origin=True),
        name="monitor",
        ws_path=MONITOR_WS_PATH,
        assets=load_assets(),
        busy_hint="choose another port with --monitor PORT (0: any free port), or none with --no-monitor",
        inbox_size=MONITOR_INBOX,
    )
    server.start()
    return MonitorEmitter(server, feed)


def open_ws(settings: WsSettings) -> WsEmitter:
    """Start the WebSocket output's server at ``settings.address``.

    Raises:
        ConfigError: a malformed address or origin.
        DeviceError: the address cannot be listened on.
    """
    address = parse_listen_address(settings.address)
    server = WebServer(
        address,
        UpdateFeed(),
        AccessPolicy.build(address, settings.allow_origin, same_origin=False),
        name="WebSocket output",
        ws_path="/",
        assets={},
        busy_hint="choose another port with --ws PORT (0: any free port)",
    )
    server.start()
    return WsEmitter(server)
