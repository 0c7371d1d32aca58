"""Clean stops: SIGINT (Ctrl-C) and SIGTERM set an event that the engine checks every 50 ms."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While active, SIGINT and SIGTERM set ``stop`` instead of killing the process; a second Ctrl-C
    raises :class:`KeyboardInterrupt` (for an engine that does not react). Previous handlers are restored.
    Only the main thread may install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
