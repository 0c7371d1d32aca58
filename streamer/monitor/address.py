"""Listening addresses of the web outputs: ``[HOST:]PORT``, loopback unless a host is given."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from damer_core.errors import ConfigError

LOOPBACK = "127.0.0.1"
"""The host used when an address names only a port: reachable from this machine only."""

_ADDRESS = re.compile(r"^(?:(?:\[(?P<v6>[^\]\s]+)\]|(?P<host>[^:\[\]\s]+)):)?(?P<port>\d{1,5})$")
_WILDCARDS = {"0.0.0.0", "::"}


@dataclass(frozen=True)
class ListenAddress:
    """Where a server listens.

    Attributes:
        host: a host name or IP address (IPv6 without brackets); ``0.0.0.0`` or ``::`` = every interface.
        port: TCP port; 0 = any free port, chosen by the system when the server starts.
    """

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect (``localhost``, 127.0.0.0/8, ``::1``)."""
        return is_loopback(self.host)

    @property
    def wildcard(self) -> bool:
        """True when the server listens on every interface."""
        return self.host in _WILDCARDS

    def url(self, scheme: str, port: int, path: str = "/") -> str:
        """The URL a client on this machine opens, with the actual ``port`` (a wildcard host becomes the
        loopback address of its family)."""
        host = {"0.0.0.0": LOOPBACK, "::": "::1"}.get(self.host, self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}{path}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen_address(text: str) -> ListenAddress:
    """``"8765"``, ``"127.0.0.1:8765"``, ``"[::1]:8765"`` or ``"0.0.0.0:8765"`` -> a :class:`ListenAddress`
    (no host: :data:`LOOPBACK`).

    Raises:
        ConfigError: not of that form, or the port is outside 0..65535.
    """
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise ConfigError(f"{text!r}: expected [HOST:]PORT, e.g. 8765 or 127.0.0.1:8765 or [::1]:8765")
    port = int(match["port"])
    if port > 65535:
        raise ConfigError(f"{text!r}: port must be in 0..65535 (0 = any free port)")
    return ListenAddress(match["v6"] or match["host"] or LOOPBACK, port)
