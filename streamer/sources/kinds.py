"""What ``--input`` names — a sound file, stdin or a device — told apart without opening anything."""

from __future__ import annotations

from pathlib import Path

import soundfile

from damer_core.errors import AudioError

AUDIO_SUFFIXES = {f".{name.lower()}" for name in soundfile.available_formats()} | {
    ".mp3",
    ".ogg",
    ".oga",
    ".opus",
    ".aif",
}
"""File-name suffixes (lower case) of sound files: the formats libsndfile reads, and MP3, Ogg and Opus names."""


def looks_like_file(text: str) -> bool:
    """True when ``text`` names a file rather than a device: an existing path, one with a directory part, or
    one ending in a sound-file suffix (``song.ogg``; a device such as ``"USB Audio 2.0"`` is not a file)."""
    path = Path(text).expanduser()
    return path.exists() or "/" in text or path.suffix.lower() in AUDIO_SUFFIXES


def check_input_file(text: str | None) -> None:
    """Fail early when ``--input`` names a sound file that is not there (before anything heavy loads).

    Raises:
        AudioError: ``text`` looks like a file name and no such file exists.
    """
    if text is None or text == "-" or not looks_like_file(text):
        return
    if not Path(text).expanduser().exists():
        raise AudioError(f"{text}: no such file")
