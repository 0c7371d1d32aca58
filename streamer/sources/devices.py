"""Sound-card discovery through PortAudio (sounddevice): import guard, listing and lookup of inputs.

sounddevice loads the PortAudio shared library when it is imported and raises ``OSError`` when the library
is missing; :func:`import_sounddevice` turns that into a :class:`~damer_core.errors.DeviceError` that says
what to install. Devices are named by index (``"3"``) or by a case-insensitive substring of their name
(``"pulse"``, ``"USB"``); an exact name wins over substring matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from damer_core.errors import DeviceError

PORTAUDIO_HINT = (
    "install the PortAudio library (Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)"
)
NO_INPUT_HINT = "use --input FILE to stream a sound file, or --input - to read raw float32 samples on stdin"


@dataclass(frozen=True)
class InputDevice:
    """One PortAudio device that can record.

    Attributes:
        index: PortAudio device index.
        name: device name as PortAudio reports it.
        hostapi: host API name (ALSA, JACK, Core Audio, ...).
        max_channels: maximum number of input channels.
        default_rate: the device's default sample rate in Hz.
        default_low_latency: PortAudio's suggested low input latency in seconds.
    """

    index: int
    name: str
    hostapi: str
    max_channels: int
    default_rate: float
    default_low_latency: float

    def describe(self) -> str:
        """One line: ``index: name (hostapi, N ch, R Hz)``."""
        return f"{self.index}: {self.name} ({self.hostapi}, {self.max_channels} ch, {self.default_rate:g} Hz)"


def import_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio library into a DeviceError."""
    try:
        import sounddevice
    except OSError as exc:
        raise DeviceError(f"cannot load PortAudio ({exc}); {PORTAUDIO_HINT}, or {NO_INPUT_HINT}") from None
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio's order."""
    sd = import_sounddevice()
    hostapis = sd.query_hostapis()
    devices = []
    for info in sd.query_devices():
        if info["max_input_channels"] > 0:
            devices.append(
                InputDevice(
                    index=int(info["index"]),
                    name=str(info["name"]),
                    hostapi=str(hostapis[info["hostapi"]]["name"]),
                    max_channels=int(info["max_input_channels"]),
                    default_rate=float(info["default_samplerate"]),
                    default_low_latency=float(info["default_low_input_latency"]),
                )
            )
    return devices


def default_input_device() -> InputDevice | None:
    """PortAudio's default input device, or None when there is none."""
    sd = import_sounddevice()
    try:
        default_index = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError):
        return None
    return next((d for d in list_input_devices() if d.index == default_index), None)


def find_input_device(name_or_index: str | int | None) -> InputDevice:
    """The input device named by index, by name substring, or the default one (``None``).

    Raises:
        DeviceError: no input device at all, no match, an ambiguous name, or an index that cannot record.
    """
    devices = list_input_devices()
    if not devices:
        raise DeviceError(f"no audio input device found (no sound card, or PortAudio sees none); {NO_INPUT_HINT}")
    if name_or_index is None:
        device = default_input_device()
        if device is None:
            raise DeviceError(
                f"no default audio input device; pick one with --input NAME (see 'damer devices') or {NO_INPUT_HINT}"
            )
        return device
    text = str(name_or_index).strip()
    if text.isdigit():
        index = int(text)
        match = next((d for d in devices if d.index == index), None)
        if match is None:
            raise DeviceError(f"no input device with index {index}; inputs: {_names(devices)}")
        return match
    exact = [d for d in devices if d.name.lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    partial = [d for d in devices if text.lower() in d.name.lower()]
    if not partial:
        raise DeviceError(f"no input device whose name contains {text!r}; inputs: {_names(devices)}")
    if len(partial) > 1:
        raise DeviceError(f"input device name {text!r} is ambiguous: {_names(partial)}; use the index")
    return partial[0]


def _names(devices: list[InputDevice]) -> str:
    return ", ".join(f"{d.index} {d.name!r}" for d in devices)
