"""The monitor's page: a fixed list of files shipped in the package (``assets/``), read once into memory.

Only the paths of :data:`PAGES` are ever answered; nothing is looked up on disk per request, so no request
path (``..``, encoded or not) can reach another file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath

PAGES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/monitor.js": "monitor.js",
    "/monitor.css": "monitor.css",
}
"""Request path -> file in ``assets/``."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    """One file as it is served."""

    body: bytes
    content_type: str


def load_assets() -> dict[str, Asset]:
    """Every path of :data:`PAGES` with the file it serves."""
    folder = files("streamer.monitor") / "assets"
    return {
        path: Asset(folder.joinpath(name).read_bytes(), CONTENT_TYPES[PurePosixPath(name).suffix])
        for path, name in PAGES.items()
    }


def request_path(target: str) -> str:
    """The path of a request target, without its query (``/monitor.js?v=2`` -> ``/monitor.js``)."""
    return target.split("?", 1)[0].split("#", 1)[0]
