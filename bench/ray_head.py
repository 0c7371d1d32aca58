"""A throw-away local Ray head on 127.0.0.1, for ``bench.analyze_speed`` and the tests of ``damer analyze
--ray``: ``ray start --head --block`` in a process session of its own, stopped (with everything it started)
when the ``with`` block ends."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
"""Environment of the head and of the drivers that connect to it: a local throw-away cluster needs no token."""


class RayUnavailable(RuntimeError):
    """Ray is not installed, or its head did not start."""


@contextmanager
def local_head(cpus: int = 2, object_store_mb: int = 100, timeout: float = 90.0) -> Iterator[str]:
    """Run a head with ``cpus`` CPUs; yields its address (``127.0.0.1:PORT``).

    Raises:
        RayUnavailable: no ``ray`` command beside this interpreter, or the head did not start in ``timeout``
            seconds (the message ends with its log).
    """
    ray_command = Path(sys.executable).parent / "ray"
    if not ray_command.is_file():
        raise RayUnavailable("Ray is not installed (optional extra damer[cluster])")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    log = Path(temp) / "head.log"
    command = [str(ray_command), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    command += ["--num-cpus", str(cpus), "--object-store-memory", str(object_store_mb * 2**20)]
    command += ["--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp]
    with log.open("w") as output:
        head = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **RAY_ENV}, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not _accepts(port):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RayUnavailable(f"the Ray head did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
