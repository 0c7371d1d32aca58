"""Progress across the files of ``damer analyze``: one line per finished file, and on a terminal a tqdm bar
below them (files done, files per second, audio hours analysed per hour, time left)."""

from __future__ import annotations

import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Reports the files of a run as they finish.

    Args:
        total: files in the run.
        stream: where to write (standard error in the command); the bar only when it is a terminal.
        done: files already done before the run (complete outputs found).
    """

    def __init__(self, total: int, stream: TextIO, done: int = 0) -> None:
        self._stream = stream
        self._audio_s = 0.0
        self._start = time.perf_counter()
        tty = bool(getattr(stream, "isatty", None) and stream.isatty())
        self._bar = tqdm(total=total, initial=done, unit="file", file=stream, disable=not tty, dynamic_ncols=True)

    def finish(self, message: str, audio_s: float = 0.0) -> None:
        """A file is done: print its one-line ``message``, count its ``audio_s`` seconds of audio."""
        self._bar.write(message, file=self._stream)
        self._audio_s += audio_s
        hours = self._audio_s / 3600
        rate = hours / max(time.perf_counter() - self._start, 1e-9) * 3600
        self._bar.set_postfix_str(f"{hours:.2f} h of audio, {rate:.0f} audio h/h", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        """Remove the bar (the lines stay)."""
        self._bar.close()
