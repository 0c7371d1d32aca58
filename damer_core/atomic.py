"""Atomic output files: written under a temporary name in the same folder, renamed when complete.

Readers of the final name see either the previous file or the complete new one, never a part; an
interrupted write (an exception, Ctrl-C) leaves only the previous file. A new file gets the permissions any
file the user creates gets (``0666`` less the process umask), not the ``0600`` of a temporary file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def new_file_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open(path, "w")`` would give a new file."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        mask = int(re.search(r"^Umask:\s*([0-7]+)$", status, re.MULTILINE)[1], 8)  # type: ignore[index]
    except (OSError, TypeError):
        mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back at once
        os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (its folder is created); when the block ends without an
    exception, give it the mode of a new file and rename it to ``path``; otherwise delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``target`` by ``write``-ing a temporary file beside it, syncing it to disk and renaming it into
    place (see :func:`atomic_path`)."""
    with atomic_path(target) as temporary, temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
