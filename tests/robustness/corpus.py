"""A generated corpus of bad (and awkward but valid) inputs for ``damer analyze``, and what must happen to each.

Every input is written from a seeded recipe into a folder at test time (nothing is stored in the repository).
:data:`CORPUS` pairs each with its expectation: ``fail`` (one ``FAILED`` line naming the file and matching
``reason``; nothing written for it) or ``ok`` (analysed, finite results; ``reason`` then matches a warning
that must be on its line, or is None when no warning may be).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from tests.streamer.conftest import music_signal

RATE = 22050


def good_audio() -> np.ndarray:
    """The good file of the corpus: 1 s of music-like audio at 22050 Hz."""
    return music_signal(1.0, RATE, seed=21)


@dataclass(frozen=True)
class Case:
    """One input: its file name, how to write it, the expected outcome and the reason (regex) on its line."""

    name: str
    write: Callable[[Path], None]
    outcome: str  # "ok" or "fail"
    reason: str | None = None


def _sound(audio: np.ndarray, rate: int = RATE, **kwargs: object) -> Callable[[Path], None]:
    return lambda path: soundfile.write(str(path), audio, rate, **kwargs)


def _bytes(make: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(make())


def _encoded(fmt: str, audio: np.ndarray | None = None, subtype: str | None = None) -> bytes:
    """``audio`` (the good audio by default) encoded as MP3, OGG/Vorbis, FLAC or WAV, in memory."""
    buffer = io.BytesIO()
    soundfile.write(buffer, good_audio() if audio is None else audio, RATE, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _truncated(fmt: str) -> bytes:
    data = _encoded(fmt)
    return data[: len(data) // 3]


def _payload_flipped(fmt: str) -> bytes:
    """Bits flipped in the audio data (after the first third of the file): FLAC's frame checksums and Ogg's
    page checksums catch them."""
    data = bytearray(_encoded(fmt))
    rng = np.random.default_rng(5)
    for i in rng.integers(len(data) // 3, len(data), 20):
        data[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def _mp3_sync_broken() -> bytes:
    """Bit flips in three MP3 frame headers in the middle of the stream: the decoder loses those frames and
    resynchronises (MP3 has no checksum over the audio itself, so flips there go unnoticed by any decoder)."""
    data = bytearray(_encoded("MP3"))
    syncs = [i for i in range(len(data) // 3, 2 * len(data) // 3) if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0]
    for i in syncs[:3]:
        data[i] ^= 0x10
        data[i + 2] ^= 0xF0
    return bytes(data)


def _wav_with_rate(rate: int) -> bytes:
    """A valid 100-sample WAV whose header then claims ``rate`` Hz (a damaged header)."""
    data = bytearray(_encoded("WAV", good_audio()[:100], "PCM_16"))
    struct.pack_into("<I", data, data.find(b"fmt ") + 12, rate)
    return bytes(data)


def _with_nan_and_inf() -> np.ndarray:
    audio = good_audio().copy()
    audio[5000:5400] = np.nan
    audio[9000] = np.inf
    audio[9001] = -np.inf
    return audio


def nan_zeroed() -> np.ndarray:
    """:func:`_with_nan_and_inf` with its non-finite samples set to 0: what the engine must analyse instead."""
    audio = _with_nan_and_inf()
    audio[~np.isfinite(audio)] = 0.0
    return audio


def _absurd_magnitudes() -> np.ndarray:
    """Finite float samples far beyond any audio level, as bit flips in a float WAV's exponents give."""
    audio = good_audio().copy()
    audio[3000:3010] = 3e30
    return audio


def _square(level: float) -> np.ndarray:
    t = np.arange(RATE) / RATE
    return (level * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)


def _folder(path: Path) -> None:
    path.mkdir()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.wav")


def _no_read_permission(path: Path) -> None:
    soundfile.write(str(path), good_audio(), RATE)
    path.chmod(0)


UNREADABLE = "unreadable.wav"
"""The entry whose test needs a process that permissions apply to (see ``test_analyze_inputs``)."""

MISSING = "missing.wav"
"""The entry that is never written."""

CORPUS: list[Case] = [
    Case("empty.wav", _bytes(lambda: b""), "fail", r"empty file \(0 bytes\)"),
    Case("zero_length.wav", _sound(np.zeros(0, np.float32)), "fail", "contains no audio samples"),
    Case(
        "truncated.mp3",
        _bytes(lambda: _truncated("MP3")),
        "ok",
        r"decoded 0\.\d+ s of the 1\.\d+ s the header announces",
    ),
    Case("truncated.ogg", _bytes(lambda: _truncated("OGG")), "fail", "cannot decode"),
    Case("truncated.flac", _bytes(lambda: _truncated("FLAC")), "fail", "corrupt or truncated data after"),
    Case("bitflip.mp3", _bytes(_mp3_sync_broken), "ok", "the decoder skipped damaged data"),
    Case("bitflip.ogg", _bytes(lambda: _payload_flipped("OGG")), "fail", "cannot decode .*malformed"),
    Case("bitflip.flac", _bytes(lambda: _payload_flipped("FLAC")), "fail", "corrupt or truncated data after"),
    Case(
        "random_bytes.wav",
        _bytes(lambda: np.random.default_rng(1).bytes(20000)),
        "fail",
        "cannot decode .*not recognised",
    ),
    Case("text.mp3", _bytes(lambda: b"these are words, not sound\n" * 200), "fail", "format not recognised"),
    Case("gzip.flac", _bytes(lambda: gzip.compress(_encoded("FLAC"))), "fail", "cannot decode .*not recognised"),
    Case(
        "nan_and_inf.wav",
        _sound(_with_nan_and_inf(), subtype="FLOAT"),
        "ok",
        r"402 non-finite samples \(NaN/inf\) replaced by 0",
    ),
    Case("all_nan.wav", _sound(np.full(RATE, np.nan, np.float32), subtype="FLOAT"), "ok", r"22050 non-finite samples"),
    Case(
        "absurd_magnitudes.wav",
        _sound(_absurd_magnitudes(), subtype="FLOAT"),
        "ok",
        r"10 damaged samples beyond \+-1e\+06 clipped",
    ),
    Case("clipped.wav", _sound(_square(1.0), subtype="PCM_16"), "ok"),
    Case("beyond_full_scale.wav", _sound(40.0 * good_audio(), subtype="FLOAT"), "ok"),
    Case("dc_offset.wav", _sound(0.2 * good_audio() + 0.75, subtype="FLOAT"), "ok"),
    Case("silence.wav", _sound(np.zeros(RATE, np.float32)), "ok"),
    Case("denormals.wav", _sound(np.full(RATE, 1e-40, np.float32), subtype="FLOAT"), "ok"),
    Case("one_sample.wav", _sound(good_audio()[:1]), "fail", r"too short: 0\.000 s of audio"),
    Case("too_short.wav", _sound(good_audio()[:1500]), "fail", r"too short: 0\.068 s"),
    Case("rate_8k.wav", _sound(music_signal(1.0, 8000, seed=22), 8000), "ok"),
    Case("rate_96k.wav", _sound(music_signal(1.0, 96000, seed=23), 96000), "ok"),
    Case("rate_44101.wav", _sound(music_signal(1.0, 44101, seed=24), 44101), "ok"),
    Case("rate_1hz.wav", _sound(good_audio()[:20], 1), "fail", r"sample rate 1 Hz is outside 1000\.\.768000 Hz"),
    Case("rate_in_header_2g.wav", _bytes(lambda: _wav_with_rate(2**31 - 1)), "fail", "sample rate 2147483647 Hz"),
    Case("six_channels.wav", _sound(np.tile(good_audio()[:, None], (1, 6)), subtype="FLOAT"), "ok"),
    Case("pcm_u8.wav", _sound(good_audio(), subtype="PCM_U8"), "ok"),
    Case("pcm_24.wav", _sound(good_audio(), subtype="PCM_24"), "ok"),
    Case("opus.ogg", _sound(music_signal(1.0, 48000, seed=25), 48000, format="OGG", subtype="OPUS"), "ok"),
    Case("flac_named.wav", _bytes(lambda: _encoded("FLAC")), "ok"),
    Case("a folder.wav", _folder, "fail", r"not a regular file \(a folder\)"),
    Case("fifo.wav", _fifo, "fail", r"not a regular file \(a pipe, socket or device\)"),
    Case("dangling_link.wav", _dangling_link, "fail", "no such file"),
    Case(MISSING, lambda path: None, "fail", "no such file"),
    Case("with spaces é ü 日本.wav", _sound(good_audio(), subtype="FLOAT"), "ok"),
    Case(UNREADABLE, _no_read_permission, "fail", r"cannot open \(Permission denied\)"),
    Case("nan_zeroed.wav", _sound(nan_zeroed(), subtype="FLOAT"), "ok"),
]
