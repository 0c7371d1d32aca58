"""Sound files as sources: decoding with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, Opus, MP3, ...).

Every failure to open or decode becomes an :class:`~damer_core.errors.AudioError` whose message starts with
the file name: missing, not a regular file (a folder, a FIFO: never opened, so never waited on), unreadable,
empty, unsupported or corrupt format, a sample rate outside :data:`RATE_RANGE`, no samples, or a decoding
error part-way through. Channels are downmixed to mono by averaging; the sample rate is kept (the engine
resamples to the model's rate).

Damaged MP3 data is not an error for the decoder (libmpg123 skips bad frames and resynchronises, as it does
in real-world files with a glitch) but it prints what it skipped straight to the process's standard error.
Those lines are captured while the decoder runs (:mod:`streamer.native_stderr`) and kept in
:attr:`SoundFileReader.decoder_messages` instead of reaching the terminal; any other line captured meanwhile
is passed on unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import soundfile

from damer_core.errors import AudioError
from streamer.native_stderr import capture_native_stderr, pass_through
from streamer.ring import RingBuffer
from streamer.sources.base import Pace, ThreadedSource

RATE_RANGE = (1000, 768000)
"""Sample rates (Hz) accepted from a file: the range ``--stdin-rate`` accepts; anything else is not audio
the front-end could use (or a damaged header)."""

MAX_DECODER_MESSAGES = 20
"""Decoder messages kept per file (the count goes on)."""

# libmpg123's own lines: "[src/libmpg123/layer3.c:INT123_do_layer3():1804] error: ...", "Note: ...", "Warning: ...".
_DECODER_LINE = re.compile(r"^(?:\[src/libmpg123/[^\]]*\]\s*|Note: |Warning: |Error: )")
_DECODER_PREFIX = re.compile(r"^\[src/libmpg123/[^\]]*\]\s*")
# Lines that undamaged files produce too: a first frame whose bit reservoir points before the stream
# (every file libsndfile's own MP3 encoder writes, and real releases), and an inexact length estimate (only
# seeking would suffer; a file shorter than its header says is reported by damer itself).
_HARMLESS = re.compile(r"part2_3_length \(\d+\) too large for available bit count|Xing stream size off")


class SoundFileReader:
    """Reads a sound file block by block as mono float32.

    Attributes:
        path: the file.
        sample_rate: the file's sample rate in Hz.
        channels: the file's channel count (downmixed on reading).
        frames: the file's length in samples per channel as its header announces it (for MP3 an estimate;
            :attr:`frames_read` is what was decoded).
        frames_read: samples per channel decoded so far.
        decoder_messages: the first :data:`MAX_DECODER_MESSAGES` lines the decoder printed about damaged or
            unusual data; :attr:`decoder_message_count` counts them all.
        damage_messages: how many of them report damaged data (the others also come from undamaged files);
            :attr:`first_damage` is the first of those, or None.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.frames_read = 0
        self.decoder_messages: list[str] = []
        self.decoder_message_count = 0
        self.damage_messages = 0
        self.first_damage: str | None = None
        if not self.path.exists():
            raise AudioError(f"{self.path}: no such file")
        if not self.path.is_file():
            kind = "a folder" if self.path.is_dir() else "a pipe, socket or device"
            raise AudioError(f"{self.path}: not a regular file ({kind}), not a sound file")
        try:
            with self.path.open("rb"):
                pass
        except OSError as exc:
            raise AudioError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        if self.path.stat().st_size == 0:
            raise AudioError(f"{self.path}: empty file (0 bytes)")
        try:
            with self._decoder_output():
                self._file = soundfile.SoundFile(str(self.path))
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(f"{self.path}: cannot decode ({self._open_reason(exc)})") from None
        self.sample_rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = int(self._file.frames)
        low, high = RATE_RANGE
        if not low <= self.sample_rate <= high:
            self._file.close()
            raise AudioError(
                f"{self.path}: sample rate {self.sample_rate} Hz is outside {low}..{high} Hz (damaged header?)"
            )
        if self.frames <= 0:
            self._file.close()
            raise AudioError(f"{self.path}: contains no audio samples")
        self._scratch = np.zeros((0, self.channels), dtype=np.float32)
        # Only libmpg123 prints; other formats report through libsndfile's error codes.
        self._chatty = self._file.format == "MP3"

    @property
    def duration(self) -> float:
        """Length in seconds as the header announces it."""
        return self.frames / self.sample_rate

    def read(self, max_frames: int) -> np.ndarray:
        if self._scratch.shape[0] < max_frames:
            self._scratch = np.zeros((max_frames, self.channels), dtype=np.float32)
        try:
            with self._decoder_output() if self._chatty else nullcontext():
                block = self._file.read(max_frames, dtype="float32", always_2d=True, out=self._scratch[:max_frames])
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            at = self.frames_read / self.sample_rate
            raise AudioError(f"{self.path}: corrupt or truncated data after {at:.2f} s ({_reason(exc)})") from None
        self.frames_read += block.shape[0]
        if self.channels == 1:
            return block[:, 0].copy()
        return block.mean(axis=1, dtype=np.float32)

    def close(self) -> None:
        self._file.close()

    @contextmanager
    def _decoder_output(self) -> Iterator[None]:
        """Capture what the decoder prints during one call: keep its own lines, pass on the others."""
        with capture_native_stderr(self._sort_output):
            yield

    def _open_reason(self, exc: BaseException) -> str:
        if isinstance(exc, soundfile.LibsndfileError) and "not a regular file" in _reason(exc):
            # libsndfile's MP3 probe says this of any readable regular file it cannot parse.
            return "format not recognised: not a sound file, or its header is damaged"
        return _reason(exc)

    def _sort_output(self, lines: list[str]) -> None:
        mine = [line for line in lines if _DECODER_LINE.match(line)]
        pass_through([line for line in lines if not _DECODER_LINE.match(line)])
        mine = [_DECODER_PREFIX.sub("", line).strip() for line in mine]
        self.decoder_message_count += len(mine)
        room = max(MAX_DECODER_MESSAGES - len(self.decoder_messages), 0)
        self.decoder_messages.extend(mine[:room])
        damage = [line for line in mine if not _HARMLESS.search(line)]
        self.damage_messages += len(damage)
        if damage and self.first_damage is None:
            self.first_damage = damage[0]


def file_source(
    reader: SoundFileReader,
    pace: Pace,
    ring_seconds: float,
    block_frames: int,
    ring_factory: Callable[[int], RingBuffer] = RingBuffer,
) -> ThreadedSource:
    """A :class:`ThreadedSource` reading an opened file at ``pace``."""
    mix = f"{reader.channels} ch -> mono" if reader.channels > 1 else "mono"
    description = f"file {reader.path} ({reader.sample_rate} Hz, {mix}, {reader.duration:.1f} s), {pace} pace"
    return ThreadedSource(reader, pace, ring_seconds, block_frames, description, ring_factory)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, soundfile.LibsndfileError) and getattr(exc, "error_string", None):
        text = exc.error_string
    text = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"^Error\s*:\s*", "", text).rstrip(".")
