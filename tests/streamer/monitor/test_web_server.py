"""The web outputs' server on its own thread: the page's files, the Host and Origin checks, client messages,
slow and vanishing clients, a port in use, the end of a stream. Real sockets on 127.0.0.1, ports chosen by
the system."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from damer_core.errors import DeviceError
from streamer.monitor import server as server_module
from streamer.monitor.address import ListenAddress
from streamer.monitor.assets import PAGES, load_assets
from streamer.monitor.policy import AccessPolicy
from streamer.monitor.server import WebServer
from tests.streamer.monitor.clients import WAIT_S, raw_client, until


class Echo:
    """A channel sending each item as its text, and ``hello`` to a new client."""

    tick_s = None

    def take(self, items: list[Any]) -> list[str]:
        return [str(item) for item in items]

    def greet(self) -> list[str]:
        return ["hello"]


Serve = Callable[..., WebServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start servers on 127.0.0.1 at a free port; all are closed at the end of the test."""
    servers: list[WebServer] = []

    def start(origins: tuple[str, ...] = (), same_origin: bool = True, **options: Any) -> WebServer:
        address = ListenAddress("127.0.0.1", 0)
        server = WebServer(
            address,
            Echo(),
            AccessPolicy.build(address, origins, same_origin),
            name="monitor",
            ws_path="/ws",
            assets=load_assets(),
            busy_hint="choose another port",
            **options,
        )
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def get(server: WebServer, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or f"127.0.0.1:{server.port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@contextmanager
def client(server: WebServer, **options: Any) -> Iterator[ClientConnection]:
    """A connected WebSocket client that has read its greeting."""
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=WAIT_S, **options) as connection:
        assert connection.recv(timeout=WAIT_S) == "hello"
        yield connection


def test_the_page_is_served(serve: Serve) -> None:
    server = serve()
    for path, name in PAGES.items():
        status, headers, body = get(server, path)
        assert status == 200 and body == load_assets()[path].body and body
        assert headers["content-type"].startswith(
            {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.split(".")[1]]
        )
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in headers["content-security-policy"]
    assert get(server, "/monitor.js?v=2")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2Fserver.py",
        "/..%2fserver.py",
        "/assets/index.html",
        "/index.html/..",
        "//etc/passwd",
        "/index.html%00",
        "/server.py",
        "/feed.py",
        "/favicon.ico",
        "/nothing",
    ],
)
def test_nothing_else_is_served(serve: Serve, path: str) -> None:
    status, _, body = get(serve(), path)
    assert status == 404 and b"root:" not in body and b"import" not in body


def test_other_host_names_are_refused(serve: Serve) -> None:
    server = serve()
    assert get(server, "/", host=f"localhost:{server.port}")[0] == 200
    assert get(server, "/", host=f"[::1]:{server.port}")[0] == 200
    assert get(server, "/", host=f"rebound.example:{server.port}")[0] == 403


def test_the_websocket_endpoint(serve: Serve) -> None:
    server = serve()
    assert get(server, "/ws")[0] == 426  # a plain request to the endpoint
    with pytest.raises(InvalidStatus) as refused, connect(f"ws://127.0.0.1:{server.port}/elsewhere"):
        pass
    assert refused.value.response.status_code == 404


def refused(server: WebServer, **options: Any) -> int:
    with pytest.raises(InvalidStatus) as error, connect(f"ws://127.0.0.1:{server.port}/ws", **options):
        pass
    return error.value.response.status_code


def test_origins(serve: Serve) -> None:
    server = serve(origins=("http://localhost:8000",))
    for origin in (f"http://127.0.0.1:{server.port}", "http://localhost:8000", None):
        # the monitor's own page, one allowed by --allow-origin, and a client that is not a browser
        with client(server, origin=origin):
            pass
    assert refused(server, origin="http://evil.example") == 403
    assert refused(server, origin="null") == 403
    assert refused(server, origin=f"http://localhost:{server.port}") == 403  # not the host it was asked for
    assert refused(server, additional_headers={"Host": f"rebound.example:{server.port}"}) == 403


def test_the_ws_output_accepts_only_listed_origins(serve: Serve) -> None:
    server = serve(same_origin=False)
    assert refused(server, origin=f"http://127.0.0.1:{server.port}") == 403
    with client(server):
        pass


def test_too_many_clients(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "MAX_CLIENTS", 2)
    server = serve()
    with client(server), client(server):
        until(lambda: server.clients == 2)
        assert refused(server) == 503


def test_messages_reach_every_client_in_order(serve: Serve) -> None:
    server = serve()
    with client(server) as first, client(server) as second, client(server) as third:
        until(lambda: server.clients == 3)
        for i in range(20):
            server.submit(i)
        for connection in (first, second, third):
            assert [connection.recv(timeout=WAIT_S) for _ in range(20)] == [str(i) for i in range(20)]
    until(lambda: server.clients == 0)


def closed_with(connection: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            connection.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_a_client_message_closes_that_client_only(serve: Serve) -> None:
    server = serve()
    with client(server) as bystander, client(server) as talker, client(server, max_size=None) as shouter:
        talker.send('{"hello": "server"}')
        assert closed_with(talker) == 1008
        shouter.send("x" * (server_module.MAX_CLIENT_MESSAGE + 1))
        assert closed_with(shouter) == 1009
        server.submit("still here")
        assert bystander.recv(timeout=WAIT_S) == "still here"


def test_a_malformed_frame_closes_that_client_only(serve: Serve) -> None:
    server = serve()
    with client(server) as bystander, raw_client(server.port) as broken:
        until(lambda: server.clients == 2)
        broken.sendall(b"\x81\x05hello")  # an unmasked frame: clients must mask theirs
        received = b""
        while chunk := broken.recv(4096):  # the server closes the connection
            received += chunk
        assert re.search(rb"\x88.\x03\xea", received, re.DOTALL)  # a close frame with code 1002 (protocol error)
        server.submit("still here")
        assert bystander.recv(timeout=WAIT_S) == "still here"
        # The broken connection is let go at the latest when the next message finds it still open.
        until(lambda: server.clients == 1)


def test_a_client_that_never_reads_holds_up_no_one(serve: Serve) -> None:
    server = serve(queue_size=8, ping_interval_s=0.5)
    with raw_client(server.port, receive_buffer=4096), client(server) as reader:
        until(lambda: server.clients == 2)
        payload = "x" * 20_000
        for i in range(500):  # 10 MB: far more than the stalled client's socket buffers hold
            server.submit(f"{i:04d}{payload}")
        server.submit("last")
        while (message := reader.recv(timeout=WAIT_S)) != "last":
            assert message.endswith(payload)
        # Its backlog is bounded, and it is dropped once it has missed its keep-alive pings.
        assert all(len(c.queue) <= 8 for c in server._clients)
        until(lambda: server.clients == 1)
        server.submit("after")
        assert reader.recv(timeout=WAIT_S) == "after"


def test_queued_messages_are_delivered_before_the_end(serve: Serve) -> None:
    server = serve()
    with client(server) as connection:
        until(lambda: server.clients == 1)
        for i in range(30):
            server.submit(i)
        server.close()
        assert [connection.recv(timeout=WAIT_S) for _ in range(30)] == [str(i) for i in range(30)]
        assert closed_with(connection) == 1001  # going away
    server.submit("after the end")  # does nothing, raises nothing
    server.close()


def test_a_port_in_use_is_one_line(serve: Serve) -> None:
    first = serve()
    address = ListenAddress("127.0.0.1", first.port)
    second = WebServer(
        address, Echo(), AccessPolicy(address), name="monitor", ws_path="/ws", assets={}, busy_hint="try another"
    )
    with pytest.raises(DeviceError) as error:
        second.start()
    assert str(error.value) == f"monitor: 127.0.0.1:{first.port} is already in use (another damer stream?); try another"
    second.close()


def test_a_host_that_is_not_this_machine(serve: Serve) -> None:
    address = ListenAddress("no-such-host.invalid", 0)
    server = WebServer(address, Echo(), AccessPolicy(address), name="monitor", ws_path="/ws", assets={}, busy_hint="")
    with pytest.raises(DeviceError, match="monitor no-such-host.invalid:0: cannot resolve host"):
        server.start()
