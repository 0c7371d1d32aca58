"""Clean stops: SIGINT (Ctrl-C) and SIGTERM set an event that the engine checks every 50 ms."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While active, SIGINT and SIGTERM set ``stop`` instead of killing the process.

    Further signals while a stop is under way change nothing: the engine reacts within 50 ms, and the
    command then finishes its work in one known way (summary written, final line printed) however many
    times Ctrl-C was pressed and whenever. For the same reason, once ``stop`` is set the signals stay
    ignored after the block (the command is ending); otherwise the previous handlers are restored. Only the
    main thread may install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if stop.is_set() else handler)
