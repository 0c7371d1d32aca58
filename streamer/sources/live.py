"""Live input from a sound card through sounddevice (PortAudio).

The stream is opened at the model's sample rate when the device accepts it (PortAudio, or the ALSA/Pulse
layer below it, converts); otherwise at the device's default rate, and the engine resamples. The audio
callback does nothing but downmix into a preallocated scratch array and copy into the ring buffer; it
never allocates array memory, never blocks and never raises.

A sound card can go away mid-stream (unplugged, its driver or sound server gone): PortAudio then ends the
stream, or the callbacks simply stop coming. Either way :attr:`LiveSource.finished` becomes true (after
:data:`STALL_TIMEOUT_S` without a sample, for a stall) and :attr:`LiveSource.lost` says what happened, so
the engine ends with its summary instead of waiting forever. A stalled stream may not even close
(:attr:`LiveSource.stuck`).

Latency: ``latency`` is passed to PortAudio as the suggested input latency, in seconds (or ``"low"`` /
``"high"`` for the device's defaults). It bounds how long samples wait in the driver before the callback
sees them, and so adds directly to the sound-to-OSC latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from damer_core.errors import DeviceError
from streamer.ring import RingBuffer
from streamer.sources.devices import InputDevice, import_sounddevice

STALL_TIMEOUT_S = 2.0
"""A started stream that delivers no sample for this long is taken as lost (a sound card delivers samples,
zeros included, all the time; PortAudio's blocks are at most a fraction of a second)."""


class LiveSource:
    """A PortAudio input stream writing mono float32 into a ring buffer.

    Args:
        device: the input device (see :func:`streamer.sources.devices.find_input_device`).
        target_rate: the rate to ask for first (the model's), in Hz.
        latency: suggested input latency in seconds, or ``"low"``/``"high"``.
        channels: channels to record and average; ``None`` = up to 2 (stereo music becomes mono).
        blocksize: frames per callback; 0 lets PortAudio choose (lowest latency).
        ring_seconds: ring capacity in seconds of audio.
        ring_factory: builds the ring from a capacity in samples (e.g. an instrumented ring in benchmarks).

    Raises:
        DeviceError: the device refuses every setting tried, or PortAudio cannot open it.
    """

    realtime = True

    def __init__(
        self,
        device: InputDevice,
        target_rate: int,
        latency: float | str,
        channels: int | None,
        blocksize: int,
        ring_seconds: float,
        ring_factory: Callable[[int], RingBuffer] = RingBuffer,
    ) -> None:
        sd = import_sounddevice()
        self._sd = sd
        self.device = device
        self.channels = min(2, device.max_channels) if channels is None else int(channels)
        if not 1 <= self.channels <= device.max_channels:
            raise DeviceError(
                f"input device {device.name!r} has {device.max_channels} input channel(s), asked for {self.channels}"
            )
        self.sample_rate = self._pick_rate(target_rate)
        self.ring = ring_factory(max(int(round(ring_seconds * self.sample_rate)), 1))
        self.device_overflows = 0
        self._gain = np.float32(1.0 / self.channels)
        self._scratch = np.zeros(max(self.sample_rate, blocksize), dtype=np.float32)
        try:
            self._stream = sd.InputStream(
                device=device.index,
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="float32",
                latency=latency,
                blocksize=blocksize,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open input device {device.describe()}: {exc}") from None
        self.latency = float(self._stream.latency)
        mix = f"{self.channels} ch -> mono" if self.channels > 1 else "mono"
        self.description = (
            f"live input {device.describe()} at {self.sample_rate} Hz, {mix}, latency {1000 * self.latency:.1f} ms"
        )
        self._started = False
        self._stopping = False
        self.lost: str | None = None
        """Why the stream ended without :meth:`stop` (device gone, or stalled), or None."""
        self.stuck = False
        """True when :meth:`stop` could not release a lost device (its driver hangs); PortAudio's clean-up at
        interpreter exit would hang on it too, so the process should end without it."""
        self._seen_arrived = 0
        self._seen_at = 0.0

    def _pick_rate(self, target_rate: int) -> int:
        try:
            self._sd.check_input_settings(
                device=self.device.index, channels=self.channels, dtype="float32", samplerate=target_rate
            )
            return int(target_rate)
        except (self._sd.PortAudioError, ValueError):
            return int(round(self.device.default_rate))

    def _callback(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        if status.input_overflow:  # type: ignore[attr-defined]
            self.device_overflows += 1
        if self.channels == 1:
            self.ring.write(indata[:, 0])
            return
        for start in range(0, frames, self._scratch.shape[0]):
            chunk = indata[start : start + self._scratch.shape[0]]
            mix = self._scratch[: chunk.shape[0]]
            np.sum(chunk, axis=1, out=mix)
            mix *= self._gain
            self.ring.write(mix)

    def start(self) -> None:
        try:
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise DeviceError(f"cannot start input device {self.device.describe()}: {exc}") from None
        self._seen_at = time.monotonic()
        self._started = True

    def stop(self) -> None:
        self._stopping = True
        if self.lost is None:
            self._close_stream()
        else:
            # PortAudio's stop waits for its audio thread, which a stalled sound server can hold forever:
            # close from another thread and give up after a while rather than hang.
            closer = threading.Thread(target=self._close_stream, name="close input device", daemon=True)
            closer.start()
            closer.join(STALL_TIMEOUT_S)
            self.stuck = closer.is_alive()
        self.ring.wake()

    def _close_stream(self) -> None:
        if not self._stream.closed:
            self._stream.stop()
            self._stream.close()

    @property
    def finished(self) -> bool:
        """True once the stream has ended: stopped, ended by PortAudio, or stalled (see :attr:`lost`)."""
        if not self._started:
            return False
        arrived = self.ring.total_written + self.ring.overrun_samples  # dropped samples arrived too
        now = time.monotonic()
        if arrived != self._seen_arrived:
            self._seen_arrived, self._seen_at = arrived, now
        elif now - self._seen_at > STALL_TIMEOUT_S and self.lost is None and not self._stopping:
            self.lost = (
                f"no audio from input device {self.device.describe()} for {STALL_TIMEOUT_S:.0f} s (stalled or gone)"
            )
        ended = self._stream.closed or not self._stream.active
        if ended and self.lost is None and not self._stopping:
            self.lost = (
                f"input device {self.device.describe()} stopped delivering audio "
                "(unplugged, or its driver or sound server ended)"
            )
        return self.lost is not None or ended

    def check(self) -> None:
        """A live stream has no deferred errors: PortAudio failures surface at open/start."""
