"""A WebSocket server (and the files of a page) on an asyncio loop in a thread of its own, fed from the engine
thread without ever waiting.

Hand-over: the engine thread appends each item to a bounded inbox (a ``deque``: appending is atomic, the
oldest item is dropped when it is full) and, only while clients are connected, wakes the loop with
``call_soon_threadsafe`` (a non-blocking write to the loop's self-pipe). The loop turns the items into
messages (a :class:`Channel`), each encoded once and queued for every client; each client has a queue of
its own bounded to ``queue_size`` messages, the oldest dropped, and a task that sends from it. A client that
stops reading only stops its own task: it is closed when it misses its keep-alive pings.

Requests: the listening socket is bound before the thread starts (a port in use is an error at once). Every
request must name this server in its ``Host`` header; plain HTTP ``GET`` requests get one of the page's
files or 404; a WebSocket upgrade must use ``ws_path`` and pass the Origin check
(:class:`~streamer.monitor.policy.AccessPolicy`). Clients send nothing: a message from a client closes that
client (1008), one over :data:`MAX_CLIENT_MESSAGE` bytes too (1009), and malformed frames too (1002).
"""

from __future__ import annotations

import asyncio
import errno
import http
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from damer_core.errors import DeviceError
from streamer.monitor.address import ListenAddress
from streamer.monitor.assets import Asset, request_path
from streamer.monitor.policy import AccessPolicy

MAX_CLIENT_MESSAGE = 1024
"""Largest message a client may send, in bytes (clients are expected to send nothing)."""

MAX_CLIENTS = 32
"""Connected WebSocket clients at most; more are refused with 503."""

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
FLUSH_TIMEOUT_S = 1.0
"""At the end, how long queued messages may take to reach the clients before their connections close."""

_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)

_LOG = logging.getLogger("streamer.monitor")


class Channel(Protocol):
    """What a server sends. Its methods run on the server's loop thread only.

    Attributes:
        tick_s: while clients are connected, :meth:`take` is called at least this often, in seconds (None:
            only when items arrive).
    """

    tick_s: float | None

    def take(self, items: list[Any]) -> list[str]:
        """The messages for every client from the items handed over since the last call (oldest first;
        possibly none)."""

    def greet(self) -> list[str]:
        """What a new client gets first (called after :meth:`take` has seen every item handed over)."""


class _Client:
    """One connected client: its queue of messages and the events its sender task waits on."""

    def __init__(self, connection: ServerConnection, queue_size: int) -> None:
        self.connection = connection
        self.queue: deque[str] = deque(maxlen=queue_size)
        self.ready = asyncio.Event()  # messages are waiting
        self.flushed = asyncio.Event()  # nothing waiting, nothing being sent
        self.flushed.set()
        self.dropped = 0

    def push(self, message: str) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(message)
        self.flushed.clear()
        self.ready.set()

    async def send_forever(self) -> None:
        """Send queued messages as the connection takes them, until it closes."""
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                while self.queue:
                    await self.connection.send(self.queue.popleft())
                self.flushed.set()
        except ConnectionClosed:
            self.flushed.set()


def _bind(address: ListenAddress, name: str, busy_hint: str) -> socket.socket:
    """A listening, non-blocking TCP socket on ``address``.

    Raises:
        DeviceError: the host does not resolve, the port is in use, or listening there is not allowed.
    """
    text = f"{address.host}:{address.port}"
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DeviceError(f"{name} {text}: cannot resolve host {address.host!r} ({exc.strerror})") from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Lets a restarted stream listen again at once (old connections in TIME_WAIT); on Linux it never lets
        # two servers listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DeviceError(f"{name}: {text} is already in use (another damer stream?); {busy_hint}") from None
        raise DeviceError(f"{name}: cannot listen on {text} ({exc.strerror or exc})") from None
    sock.setblocking(False)
    return sock


class WebServer:
    """Serves a :class:`Channel`'s messages over WebSocket (and optionally a page's files) from its own thread.

    Args:
        address: where to listen.
        channel: turns handed-over items into messages.
        policy: which requests are answered.
        name: what the server is called in messages (``"monitor"``).
        ws_path: the path of the WebSocket endpoint.
        assets: request path -> file of the page; empty for no page.
        busy_hint: what to tell the user when the port is in use.
        inbox_size: items kept for the loop at most (the oldest dropped): a client connecting after a while
            without clients gets at most this many through :meth:`Channel.take`.
        queue_size: messages queued per client at most (the oldest dropped).
        ping_interval_s: keep-alive ping period; a client that does not answer within as long is closed.

    Attributes:
        port: the port listened on (the one chosen by the system when ``address.port`` is 0), after
            :meth:`start`.
    """

    def __init__(
        self,
        address: ListenAddress,
        channel: Channel,
        policy: AccessPolicy,
        *,
        name: str,
        ws_path: str,
        assets: Mapping[str, Asset],
        busy_hint: str,
        inbox_size: int = 64,
        queue_size: int = 64,
        ping_interval_s: float = 20.0,
    ) -> None:
        self.address = address
        self.name = name
        self.port = address.port
        self._channel = channel
        self._policy = policy
        self._ws_path = ws_path
        self._assets = dict(assets)
        self._busy_hint = busy_hint
        self._queue_size = queue_size
        self._ping_interval_s = ping_interval_s
        self._inbox: deque[Any] = deque(maxlen=inbox_size)
        self._clients: set[_Client] = set()
        self._n_clients = 0  # read by other threads: a plain int, written by the loop thread only
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._sock: socket.socket | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name} server", daemon=True)

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        """Listen, and serve from the server's thread.

        Raises:
            DeviceError: the address cannot be listened on (see :func:`_bind`).
        """
        self._sock = _bind(self.address, self.name, self._busy_hint)
        self.port = self._sock.getsockname()[1]
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S) or self._error is not None:
            self.close()
            raise DeviceError(f"{self.name}: the server did not start ({self._error or 'timed out'})")

    def url(self, scheme: str, path: str = "/") -> str:
        """The URL of ``path`` on this server for a client on this machine."""
        return self.address.url(scheme, self.port, path)

    @property
    def clients(self) -> int:
        """WebSocket clients connected now."""
        return self._n_clients

    def submit(self, item: Any) -> None:
        """Hand ``item`` to the channel; never blocks, never raises (safe from the engine thread)."""
        self._inbox.append(item)
        if self._n_clients and not self._wake_pending:
            self._wake_pending = True
            self._call_soon(self._wake_up)

    def call(self, function: Callable[..., object], *args: Any) -> None:
        """Run ``function(*args)`` on the loop thread, then pass what was handed over to the channel; never
        blocks, never raises."""
        self._call_soon(self._call_and_drain, function, *args)

    def close(self) -> None:
        """Pass the last items to the channel, give the clients up to :data:`FLUSH_TIMEOUT_S` to receive what is
        queued, close their connections (1001, going away) and stop listening; idempotent."""
        if self._thread.is_alive() and self._closing is not None:
            self._call_soon(self._closing.set)
            self._thread.join(STOP_TIMEOUT_S)
        elif self._sock is not None and not self._thread.is_alive():
            self._sock.close()

    def _call_soon(self, function: Callable[..., object], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop has ended: nothing is served any more
            pass

    # ------------------------------------------------------------------ loop thread

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported by start(); later, the server is gone and submit() does nothing
            self._error = exc
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        async with serve(
            self._handle,
            sock=self._sock,
            process_request=self._process_request,
            compression=None,
            max_size=MAX_CLIENT_MESSAGE,
            max_queue=4,
            open_timeout=5.0,
            close_timeout=1.0,
            ping_interval=self._ping_interval_s,
            ping_timeout=self._ping_interval_s,
            server_header=None,
            logger=_LOG,
        ):
            self._started.set()
            pump = asyncio.create_task(self._pump())
            await self._closing.wait()
            pump.cancel()
            self._drain()
            flushed = [asyncio.create_task(client.flushed.wait()) for client in self._clients]
            if flushed:
                await asyncio.wait(flushed, timeout=FLUSH_TIMEOUT_S)
                for task in flushed:
                    task.cancel()

    def _wake_up(self) -> None:
        assert self._wake is not None
        self._wake.set()

    def _call_and_drain(self, function: Callable[..., object], *args: Any) -> None:
        function(*args)
        self._drain()

    async def _pump(self) -> None:
        """Pass handed-over items to the channel when woken, and every ``tick_s`` while clients are connected."""
        assert self._wake is not None
        while True:
            timeout = self._channel.tick_s if self._clients else None
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._wake_pending = False
            self._drain()

    def _drain(self) -> None:
        items = []
        inbox = self._inbox
        while inbox:  # only the engine thread appends: a non-empty inbox stays non-empty until popped here
            items.append(inbox.popleft())
        for message in self._channel.take(items):
            for client in self._clients:
                client.push(message)

    async def _handle(self, connection: ServerConnection) -> None:
        """One WebSocket client: greeted, then sent every message until it goes; any message from it closes it."""
        client = _Client(connection, self._queue_size)
        self._drain()
        for message in self._channel.greet():
            client.push(message)
        self._clients.add(client)
        self._n_clients = len(self._clients)
        self._wake_up()  # the pump starts ticking for this client
        sender = asyncio.create_task(client.send_forever())
        try:
            async for _ in connection:
                await connection.close(CloseCode.POLICY_VIOLATION, "clients send nothing here")
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            self._n_clients = len(self._clients)
            sender.cancel()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer plain HTTP requests and refuse unwanted upgrades; None lets a WebSocket handshake go on."""
        headers = request.headers
        host = _single(headers, "Host")
        if not self._policy.host_allowed(host):
            return _text(connection, http.HTTPStatus.FORBIDDEN, "unknown host name\n")
        path = request_path(request.path)
        if (_single(headers, "Upgrade") or "").lower() != "websocket":
            asset = self._assets.get(path)
            if asset is not None:
                return _file(asset)
            if path == self._ws_path:
                return _text(connection, http.HTTPStatus.UPGRADE_REQUIRED, "connect with a WebSocket client\n")
            return _text(connection, http.HTTPStatus.NOT_FOUND, "not found\n")
        if path != self._ws_path:
            return _text(connection, http.HTTPStatus.NOT_FOUND, "not found\n")
        if len(headers.get_all("Origin")) > 1 or not self._policy.origin_allowed(_single(headers, "Origin"), host):
            return _text(connection, http.HTTPStatus.FORBIDDEN, "origin not allowed (see --allow-origin)\n")
        if len(self._clients) >= MAX_CLIENTS:
            return _text(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "too many clients\n")
        return None


def _single(headers: Headers, name: str) -> str | None:
    """The value of a header given once; None when absent or given more than once."""
    values = headers.get_all(name)
    return values[0] if len(values) == 1 else None


def _text(connection: ServerConnection, status: http.HTTPStatus, text: str) -> Response:
    response = connection.respond(status, text)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _file(asset: Asset) -> Response:
    headers = Headers(
        [
            ("Content-Type", asset.content_type),
            ("Content-Length", str(len(asset.body))),
            ("Connection", "close"),
            *_SECURITY_HEADERS,
        ]
    )
    return Response(http.HTTPStatus.OK, "OK", headers, asset.body)
