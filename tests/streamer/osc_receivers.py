"""Real OSC receivers for the tests: a python-osc UDP server and liblo's ``oscdump``, each on a free port."""

from __future__ import annotations

import queue
import re
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.parsing import osc_types


@dataclass
class Received:
    """One bundle as it arrived: raw NTP timetag, and (address, type tags, arguments) per message."""

    ntp: float
    messages: list[tuple[str, str, tuple]]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _RecordingDispatcher(Dispatcher):
    """python-osc's own dispatcher (which sleeps until future timetags, strict timing), also recording the
    raw packets and the moment each message reached its handler."""

    def __init__(self, packets: queue.Queue, handled: queue.Queue) -> None:
        super().__init__(strict_timing=True)
        self._packets = packets
        self.set_default_handler(lambda address, *args: handled.put((time.time(), address, args)))

    def call_handlers_for_packet(self, data: bytes, client_address):  # noqa: ANN001, ANN201
        seconds, fraction = struct.unpack(">II", data[8:16])
        messages = []
        for message in OscBundle(data):
            address, index = osc_types.get_string(message.dgram, 0)
            tags, _ = osc_types.get_string(message.dgram, index)
            messages.append((address, tags, tuple(message.params)))
        self._packets.put(Received(seconds + fraction / 2**32, messages))
        return super().call_handlers_for_packet(data, client_address)


class PythonOscReceiver:
    """A python-osc ``BlockingOSCUDPServer`` serving in a thread."""

    def __init__(self) -> None:
        self.packets: queue.Queue[Received] = queue.Queue()
        self.handled: queue.Queue = queue.Queue()
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), _RecordingDispatcher(self.packets, self.handled))
        # Room for a whole fast-pace run even if this thread is not scheduled meanwhile.
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.port = self.server.server_address[1]
        self.target = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def take(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Wait for ``n`` bundles (each one waited for in turn)."""
        got = []
        for _ in range(n):
            try:
                got.append(self.packets.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"only {len(got)} of {n} OSC bundles arrived within {timeout} s of each other"
                ) from None
        return got

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_OSCDUMP_LINE = re.compile(r"^(?P<sec>[0-9a-f]{8})\.(?P<frac>[0-9a-f]{8}) (?P<address>\S+) (?P<tags>\S*)(?P<args>.*)$")


class OscDump:
    """liblo's ``oscdump`` in a subprocess, line-buffered; its lines are parsed as they come.

    Args:
        port: the UDP port to listen on (a free one by default; a fixed one to restart a receiver).

    Attributes:
        arrivals: ``(time.monotonic(), line)`` of every line read, probes included.
        listening_at: ``time.monotonic()`` when the first probe came back (oscdump was listening).
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = free_udp_port() if port is None else port
        self.target = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            ["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.arrivals: list[tuple[float, str]] = []
        self.listening_at = 0.0
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_until_listening()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.arrivals.append((time.monotonic(), line.rstrip("\n")))
            self.lines.put(line.rstrip("\n"))

    def _wait_until_listening(self) -> None:
        """Send a probe message until oscdump prints it (it prints nothing when it starts)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            probe = osc_types.write_string("/probe") + osc_types.write_string(",")
            for _ in range(200):
                sock.sendto(probe, ("127.0.0.1", self.port))
                time.sleep(0.05)
                heard = [t for t, text in list(self.arrivals) if "/probe" in text]
                if heard:
                    self.listening_at = heard[0]
                    break
            else:
                raise RuntimeError("oscdump did not start listening")
        time.sleep(0.1)
        while not self.lines.empty():  # later probes (and anything else before them)
            self.lines.get_nowait()

    def take(self, n: int, timeout: float = 10.0) -> list[tuple[float, str, str, list[float]]]:
        """Wait for ``n`` message lines; each parsed into (timetag seconds since 1900, address, tags, floats)."""
        parsed = []
        for _ in range(n):
            line = self.lines.get(timeout=timeout)
            match = _OSCDUMP_LINE.match(line)
            assert match is not None, f"unexpected oscdump line: {line!r}"
            ntp = int(match["sec"], 16) + int(match["frac"], 16) / 2**32
            parsed.append((ntp, match["address"], match["tags"], [float(v) for v in match["args"].split()]))
        return parsed

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)
