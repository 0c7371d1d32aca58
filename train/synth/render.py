"""Render MIDI to mono audio with the FluidSynth command-line synthesiser and a SoundFont.

FluidSynth's fast render (``fluidsynth -ni -F out.wav``) synthesises straight at the requested sample
rate, as fast as the CPU allows, into 32-bit float stereo; the two channels are averaged to mono and the
result is cut or zero-padded to the clip's length, with a 20 ms fade-out against a click. The level is
never normalised, so loudness follows the played velocities; the rare clip whose peak would exceed full
scale is scaled down as a whole and the factor is reported.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile

from damer_core.errors import AudioError, ConfigError, DeviceError

FLUIDSYNTH = "fluidsynth"
DEFAULT_GAIN = 1.2
"""FluidSynth master gain (its own default is 0.2): puts the median clip near -24 dBFS RMS while the
loudest full ensembles stay below full scale."""

FADE_OUT_S = 0.02
PEAK_LIMIT = 0.999


@dataclass(frozen=True)
class Rendering:
    """Rendered audio (n_samples,) float32 in [-1, 1], and the factor applied to keep it there (1.0 for
    nearly all clips)."""

    audio: np.ndarray
    scale: float


def fluidsynth_version() -> str:
    """FluidSynth's version string, or a :class:`DeviceError` saying what to install."""
    if shutil.which(FLUIDSYNTH) is None:
        raise DeviceError("fluidsynth not found: install the Debian package 'fluidsynth'")
    out = subprocess.run([FLUIDSYNTH, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def check_soundfont(path: Path) -> Path:
    """``path`` if it is a readable SoundFont file, else a :class:`ConfigError`."""
    if not path.is_file():
        raise ConfigError(f"soundfont {path}: no such file (Debian: timgm6mb-soundfont, fluid-soundfont-gm)")
    with path.open("rb") as handle:
        header = handle.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ConfigError(f"soundfont {path}: not a SoundFont 2 file")
    return path


def render(
    midi: mido.MidiFile, soundfont: Path, duration_s: float, sample_rate: int = 22050, gain: float = DEFAULT_GAIN
) -> Rendering:
    """Render ``midi`` with ``soundfont`` to mono float32 of exactly ``round(duration_s * sample_rate)``
    samples at ``sample_rate`` Hz."""
    with tempfile.TemporaryDirectory(prefix="damer-synth-") as tmp:
        midi_path, wav_path = Path(tmp) / "clip.mid", Path(tmp) / "clip.wav"
        midi.save(str(midi_path))
        command = [
            FLUIDSYNTH,
            "-ni",
            "-q",
            "-F",
            str(wav_path),
            "-T",
            "wav",
            "-O",
            "float",
            "-r",
            str(sample_rate),
            "-g",
            str(gain),
            str(soundfont),
            str(midi_path),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise DeviceError("fluidsynth not found: install the Debian package 'fluidsynth'") from exc
        if done.returncode != 0 or not wav_path.exists():
            message = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise AudioError(f"fluidsynth failed on {soundfont.name}: {message}")
        stereo, rate = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise AudioError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz")
    n = int(round(duration_s * sample_rate))
    mono = np.zeros(n, dtype=np.float32)
    head = stereo[:n].mean(axis=1, dtype=np.float32)
    mono[: len(head)] = head
    fade = min(n, int(FADE_OUT_S * sample_rate))
    mono[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    peak = float(np.max(np.abs(mono))) if n else 0.0
    if not np.isfinite(peak):
        raise AudioError(f"fluidsynth produced non-finite samples with {soundfont.name}")
    scale = 1.0 if peak <= PEAK_LIMIT else PEAK_LIMIT / peak
    return Rendering(audio=mono * np.float32(scale) if scale != 1.0 else mono, scale=scale)
