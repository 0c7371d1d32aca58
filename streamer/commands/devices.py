"""``damer devices``: list the audio inputs PortAudio can record from."""

from __future__ import annotations

import argparse

from streamer.sources.devices import NO_INPUT_HINT, default_input_device, list_input_devices


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``devices`` sub-command."""
    parser = subparsers.add_parser("devices", help="list audio input devices", description="List audio input devices.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per input device (``*`` marks the default); explain when there is none."""
    devices = list_input_devices()
    if not devices:
        print(f"no audio input devices found (no sound card, or PortAudio sees none); {NO_INPUT_HINT}")
        return 0
    default = default_input_device()
    for device in devices:
        mark = "*" if default is not None and device.index == default.index else " "
        print(f"{mark} {device.describe()}")
    print("use --input INDEX or --input NAME (a unique part of the name) with 'damer stream'")
    return 0
