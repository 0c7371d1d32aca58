"""Progress across the files of ``damer analyze``: a bar redrawn in place on a terminal, lines otherwise."""

from __future__ import annotations

from typing import TextIO

_WIDTH = 30


class Progress:
    """Reports ``done / total`` files.

    Args:
        total: number of files.
        stream: where to write (standard error by default in the command).
    """

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", None) and stream.isatty())

    def start(self, name: str) -> None:
        """A file is about to be processed."""
        if self._tty:
            filled = _WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            self._stream.write(f"\r[{bar}] {self.done}/{self.total} {name[:40]:<40}")
            self._stream.flush()

    def finish(self, message: str) -> None:
        """A file is done; ``message`` is its one-line result."""
        self.done += 1
        if self._tty:
            self._stream.write("\r" + " " * (_WIDTH + 60) + "\r")
        self._stream.write(f"[{self.done}/{self.total}] {message}\n")
        self._stream.flush()
