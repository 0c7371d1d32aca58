"""Which requests a web output answers: the Host check (against DNS rebinding) and the Origin check of
WebSocket upgrades (against other web pages reading the stream).

Browsers send ``Origin`` with every WebSocket handshake; programs that are not browsers (a Python or Node
client, TouchDesigner) usually send none, and are let in: they run on a machine that can reach the port
anyway. A page from another origin is refused unless its origin is listed (``--allow-origin``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from damer_core.errors import ConfigError
from streamer.monitor.address import ListenAddress, is_loopback

_ORIGIN = re.compile(r"^(?:https?://(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?|null)$")
_HOST = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::\d{1,5})?$")


def check_origin(text: str) -> str:
    """Validate a web origin as browsers send it: ``scheme://host[:port]`` (no path, no trailing ``/``), or
    ``null`` (pages opened from a file, sandboxed frames); returns it in lower case.

    Raises:
        ConfigError: anything else.
    """
    origin = text.strip().lower()
    if not _ORIGIN.match(origin):
        raise ConfigError(
            f"{text!r}: expected an origin such as http://localhost:8000 (scheme, host and port only) or null"
        )
    return origin


def host_name(header: str) -> str | None:
    """The host name of a ``Host`` header (``localhost:8765`` -> ``localhost``, ``[::1]:8765`` -> ``::1``),
    lower case; None when malformed."""
    match = _HOST.match(header.strip())
    if match is None:
        return None
    return (match["v6"] or match["name"]).lower()


@dataclass(frozen=True)
class AccessPolicy:
    """What one server accepts.

    Attributes:
        address: where the server listens.
        allowed_origins: origins (lower case, see :func:`check_origin`) whose pages may open the WebSocket.
        same_origin: also accept pages served by this server itself (the monitor's own page).
    """

    address: ListenAddress
    allowed_origins: frozenset[str] = frozenset()
    same_origin: bool = False

    @classmethod
    def build(cls, address: ListenAddress, origins: Iterable[str], same_origin: bool) -> AccessPolicy:
        """A policy from origins as the user wrote them (checked and lower-cased).

        Raises:
            ConfigError: a malformed origin.
        """
        return cls(address, frozenset(check_origin(o) for o in origins), same_origin)

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server: on a loopback address only a loopback name
        (``localhost``, 127.0.0.0/8, ``::1``), on a specific address only that address, on every interface
        (``0.0.0.0``, ``::``) any name. A page on another site whose name was made to resolve to this machine
        (DNS rebinding) sends its own name, and is refused."""
        if self.address.wildcard:
            return True
        name = None if header is None else host_name(header)
        if name is None:
            return False
        if self.address.loopback:
            return is_loopback(name)
        return name == self.address.host.lower()

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """Whether a WebSocket handshake with this ``Origin`` header may proceed (see the module docstring)."""
        if origin is None:
            return True
        origin = origin.strip().lower()
        if origin in self.allowed_origins:
            return True
        return self.same_origin and host_header is not None and origin == f"http://{host_header.strip().lower()}"
