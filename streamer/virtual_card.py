"""A virtual sound card on Linux: a private PulseAudio daemon with a null sink.

Whatever is played into the sink ``vsink`` (``pacat --device=vsink``, or any PulseAudio application told to
use it) can be recorded from its monitor source, which is made the default source; PortAudio reaches it
through ALSA's ``pulse`` device (Debian: pulseaudio, pulseaudio-utils, libasound2-plugins). So ``damer
stream --input pulse`` listens, through the real audio-callback path, to what is played there. The tests and
the latency benchmark use it as a sound card that exists on any machine.

The daemon runs with its own runtime directory; while the context is active, ``PULSE_SERVER`` and
``XDG_RUNTIME_DIR`` point this process's PulseAudio clients (and its subprocesses) at it. PortAudio lists
devices once, when sounddevice is imported: import it after entering the context, or re-initialise it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SINK_RATE = 22050


class PulseUnavailable(Exception):
    """PulseAudio is not installed or cannot start here; the message says why."""


@contextmanager
def null_sink(runtime_dir: Path) -> Iterator[dict[str, str]]:
    """Start the daemon, yield the environment for its clients, stop it and restore the environment.

    Raises:
        PulseUnavailable: a tool is missing, or the daemon does not start or answer.
    """
    for tool in ("pulseaudio", "pactl", "pacat"):
        if shutil.which(tool) is None:
            raise PulseUnavailable(f"{tool} is not installed (Debian: pulseaudio pulseaudio-utils)")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    socket_path = runtime_dir / "pulse" / "native"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "PULSE_SERVER": f"unix:{socket_path}"}
    command = [
        "pulseaudio",
        "--daemonize=yes",
        "--exit-idle-time=-1",
        "--disallow-exit=no",
        "-n",
        "--use-pid-file=yes",
        "--load=module-native-protocol-unix",
        f"--load=module-null-sink sink_name=vsink rate={SINK_RATE} channels=1",
    ]
    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        problem = (started.stderr.strip().splitlines() or ["no message"])[-1]
        raise PulseUnavailable(f"pulseaudio did not start (exit {started.returncode}): {problem}")
    try:
        _wait_ready(env)
        subprocess.run(["pactl", "set-default-source", "vsink.monitor"], env=env, check=True, timeout=10)
        saved = {key: os.environ.get(key) for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
        os.environ.update({key: env[key] for key in saved})
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=10)


def _wait_ready(env: dict[str, str]) -> None:
    for _ in range(100):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10).returncode == 0:
            return
        time.sleep(0.05)
    raise PulseUnavailable("pulseaudio started but does not answer 'pactl info'")


def play(env: dict[str, str], audio: np.ndarray, timeout: float = 600.0) -> None:
    """Play float32 mono ``audio`` at the sink's rate into ``vsink`` in real time; returns when done. A
    200 ms client buffer keeps the playback free of underruns on a busy machine."""
    subprocess.run(
        ["pacat", "--device=vsink", "--format=float32le", f"--rate={SINK_RATE}", "--channels=1", "--latency-msec=200"],
        input=audio.astype("<f4").tobytes(),
        env=env,
        check=True,
        timeout=timeout,
    )
