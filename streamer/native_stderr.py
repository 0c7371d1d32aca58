"""What C libraries print straight to the process's standard error (file descriptor 2) during a call.

libsndfile's MP3 decoder (libmpg123) reports damaged or unusual frames by writing to descriptor 2 itself,
bypassing Python: on a terminal its lines would interleave with damer's own one-line reports and could not
be told apart per file. :func:`capture_native_stderr` points descriptor 2 at a temporary file while a call
runs and hands the lines written there to the caller.

Descriptor 2 is shared by every thread, so whatever another thread writes meanwhile is captured too; the
caller keeps the lines it recognises and passes the others on with :func:`pass_through`, so nothing is
lost. Captures are serialised by a lock (one redirection at a time).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def capture_native_stderr(handle: Callable[[list[str]], None]) -> Iterator[None]:
    """Send descriptor 2 to a temporary file for the duration of the ``with`` block; when the block ends
    (also after an exception) descriptor 2 is restored and ``handle`` receives the non-empty lines written
    meanwhile, without their line ends."""
    with _LOCK, tempfile.TemporaryFile() as sink:
        _flush_python_stderr()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush_python_stderr()
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            handle([line for line in text.splitlines() if line.strip()])


def pass_through(lines: list[str]) -> None:
    """Write ``lines`` (captured, but not the caller's to keep) to standard error as they were."""
    if lines:
        sys.stderr.write("".join(line + "\n" for line in lines))
        sys.stderr.flush()


def _flush_python_stderr() -> None:
    stream = sys.stderr
    if stream is not None:
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr: what it buffered cannot be delivered anyway
