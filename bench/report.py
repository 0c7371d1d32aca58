"""What every benchmark records beside its figures: the machine it ran on, and the JSON file of its numbers."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine_line() -> str:
    """Processor, core count and the 1-minute load average now (other load on a shared machine skews timings)."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )


def write_json(path: Path | None, numbers: dict[str, Any]) -> None:
    """Write ``numbers`` as indented JSON to ``path``; nothing when ``path`` is None (no ``--json`` given)."""
    if path is not None:
        path.write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
