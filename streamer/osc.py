"""OSC output: one UDP bundle per update to every target.

Address space (``P`` is the prefix, default ``/damer``; every update sends all six messages, in this order,
in one bundle)::

    address            types  arguments
    P/va               ff     valence, arousal             each in [-1, 1]
    P/valence          f      valence                      [-1, 1]
    P/arousal          f      arousal                      [-1, 1]
    P/valence/p_high   f      probability of high valence  [0, 1]
    P/arousal/p_high   f      probability of high arousal  [0, 1]
    P/time             f      audio time of the update     seconds since the stream started

Timetag of the bundle (64-bit NTP time: seconds since 1900-01-01 UTC and a 32-bit fraction):

* Real-time sources (live input, a file or stdin at real-time pace): ``origin + t`` where ``t`` is the
  update's audio time (end of its last feature frame, the value of ``P/time``) and ``origin`` is the sender's
  wall clock at audio time 0 (arrival of the first samples minus their duration). So the timetag is when the
  last sound the update depends on was captured, on the sender's clock. It is capped at the moment of
  sending, so a sound card whose clock runs faster than the computer's never produces a timetag in the
  future (receivers that schedule future bundles, such as python-osc's default dispatcher or liblo, would
  hold them back).
* Fast pacing (``damer analyze``, ``--pace fast``): the timetag is ``t`` itself, i.e. ``t`` seconds after the
  NTP epoch (1900). It is always in the past for receivers, which therefore dispatch immediately, and it
  gives the audio time exactly.

Sending never blocks and never raises: each target has its own non-blocking connected UDP socket, and a
send that fails (nobody listening — the kernel reports the ICMP "port unreachable" of an earlier datagram
as ``ConnectionRefusedError`` on a later send — a full socket buffer, a network down) is counted in
:attr:`OscEmitter.send_errors` and the engine goes on. A host name that does not resolve is a
:class:`~damer_core.errors.DeviceError` when the emitter is created, before any audio runs.
"""

from __future__ import annotations

import math
import re
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from damer_core.errors import ConfigError, DeviceError
from streamer.update import StreamInfo, Update

NTP_UNIX_OFFSET = 2208988800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01)."""

DEFAULT_PREFIX = "/damer"

#: (suffix, number of float arguments) of every message of a bundle, in order.
ADDRESSES: tuple[tuple[str, int], ...] = (
    ("/va", 2),
    ("/valence", 1),
    ("/arousal", 1),
    ("/valence/p_high", 1),
    ("/arousal/p_high", 1),
    ("/time", 1),
)

_TIMETAG = struct.Struct(">II")
_FLOAT = struct.Struct(">f")
_PREFIX_PATTERN = re.compile(r"^(/[A-Za-z0-9_.~-]+)+$")
_TARGET_PATTERN = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d+)$")


@dataclass(frozen=True)
class OscTarget:
    """A resolved destination: the text the user gave and the socket address it resolved to."""

    text: str
    family: int
    address: tuple


def parse_target(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[ipv6]:port"`` -> ``(host, port)``.

    Raises:
        ConfigError: not of that form, or the port is outside 1..65535.
    """
    match = _TARGET_PATTERN.match(text.strip())
    if match is None:
        raise ConfigError(f"OSC target {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9000 or [::1]:9000")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ConfigError(f"OSC target {text!r}: port must be in 1..65535")
    return match["v6"] or match["host"], port


def check_prefix(prefix: str) -> str:
    """Validate an address prefix (``/damer``, ``/show/emotion``); a trailing ``/`` is dropped.

    Raises:
        ConfigError: empty, not starting with ``/``, or containing spaces or OSC pattern characters.
    """
    cleaned = prefix.rstrip("/") if prefix != "/" else prefix
    if not _PREFIX_PATTERN.match(cleaned):
        raise ConfigError(
            f"OSC prefix {prefix!r}: must look like /name or /name/sub "
            "(letters, digits, _ . ~ - ; no spaces or * ? [ ] { } ,)"
        )
    return cleaned


def resolve_target(text: str) -> OscTarget:
    """Parse and resolve one target.

    Raises:
        ConfigError: malformed ``host:port``.
        DeviceError: the host name does not resolve.
    """
    host, port = parse_target(text)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise DeviceError(f"OSC target {text}: cannot resolve host {host!r} ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    return OscTarget(text, family, address)


def ntp_timetag(ntp_seconds: float) -> tuple[int, int]:
    """Seconds since 1900 -> (whole seconds, 32-bit fraction) as carried by an OSC timetag."""
    whole = math.floor(ntp_seconds)
    fraction = min(int((ntp_seconds - whole) * 4294967296.0), 0xFFFFFFFF)
    return int(whole) & 0xFFFFFFFF, fraction


class OscEmitter:
    """Sends each update as one OSC bundle to every target.

    Args:
        targets: ``host:port`` strings (at least one).
        prefix: the address prefix.

    Attributes:
        targets: the resolved targets.
        attempts: bundles offered to each target (one per update), per target text.
        sent: bundles handed to the kernel (per update, counted once per target).
        send_errors: failed sends, per target text.
        refused: of those, sends refused because nothing listened at the target's port, per target text.

    Raises:
        ConfigError: a malformed target or prefix.
        DeviceError: a host that does not resolve, or a socket that cannot be created.
    """

    def __init__(self, targets: Sequence[str], prefix: str = DEFAULT_PREFIX) -> None:
        if not targets:
            raise ConfigError("OSC: at least one target HOST:PORT is needed")
        self.prefix = check_prefix(prefix)
        self.targets = [resolve_target(t) for t in targets]
        self.sent = 0
        self.attempts = {t.text: 0 for t in self.targets}
        self.send_errors = {t.text: 0 for t in self.targets}
        self.refused = {t.text: 0 for t in self.targets}
        self._sockets: list[tuple[socket.socket, str]] = []
        try:
            for target in self.targets:
                sock = socket.socket(target.family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                self._sockets.append((sock, target.text))
                sock.connect(target.address)
        except OSError as exc:
            self.close()
            raise DeviceError(f"OSC target {target.text}: cannot open a UDP socket ({exc.strerror or exc})") from None
        self._datagram, self._float_offsets = self._template()
        self._realtime = False
        self._origin = 0.0

    @property
    def addresses(self) -> list[str]:
        """Full addresses of the messages in a bundle, in order."""
        return [self.prefix + suffix for suffix, _ in ADDRESSES]

    def _template(self) -> tuple[bytearray, list[int]]:
        """A bundle with zero arguments built by python-osc, and the byte offset of every float argument."""
        builder = OscBundleBuilder(0)
        offsets: list[int] = []
        position = 16  # "#bundle\0" + timetag
        for suffix, n_floats in ADDRESSES:
            message = OscMessageBuilder(self.prefix + suffix)
            for _ in range(n_floats):
                message.add_arg(0.0, "f")
            built = message.build()
            builder.add_content(built)
            first = position + 4 + built.size - 4 * n_floats  # floats are the last bytes of the message
            offsets.extend(first + 4 * i for i in range(n_floats))
            position += 4 + built.size
        return bytearray(builder.build().dgram), offsets

    def begin(self, info: StreamInfo) -> None:
        self._realtime = info.origin_unix is not None
        self._origin = info.origin_unix or 0.0

    def emit(self, update: Update) -> None:
        if self._realtime:
            ntp = min(self._origin + update.time, time.time()) + NTP_UNIX_OFFSET
        else:
            ntp = update.time
        seconds, fraction = ntp_timetag(ntp)
        datagram, at = self._datagram, self._float_offsets
        _TIMETAG.pack_into(datagram, 8, seconds, fraction)
        values = (
            update.valence,
            update.arousal,
            update.valence,
            update.arousal,
            update.p_high_valence,
            update.p_high_arousal,
            update.time,
        )
        for offset, value in zip(at, values, strict=True):
            _FLOAT.pack_into(datagram, offset, value)
        for sock, text in self._sockets:
            self.attempts[text] += 1
            try:
                sock.send(datagram)
                self.sent += 1
            except ConnectionRefusedError:
                self.send_errors[text] += 1
                self.refused[text] += 1
            except OSError:
                self.send_errors[text] += 1

    def report(self) -> list[str]:
        """One plain line per target for the end-of-run summary: what was sent, and what went wrong."""
        lines = []
        for target in self.targets:
            text = target.text
            attempts, errors, refused = self.attempts[text], self.send_errors[text], self.refused[text]
            line = f"OSC {text}: {attempts - errors} of {attempts} bundles sent"
            if refused:
                # The kernel reports a lost datagram's "port unreachable" as an error of the *next* send: while
                # nothing listens, about every other send fails and the ones in between are lost silently.
                line += (
                    f", {refused} refused: nothing was listening at that port (for all or part of the run; the "
                    "bundles sent in between were lost too)"
                )
            if errors > refused:
                line += f"; {errors - refused} sends failed for other reasons (network down, buffer full)"
            lines.append(line)
        return lines

    @property
    def total_send_errors(self) -> int:
        """Failed sends over all targets."""
        return sum(self.send_errors.values())

    def close(self) -> None:
        for sock, _ in self._sockets:
            sock.close()
        self._sockets = []
