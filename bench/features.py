"""Time the feature front-end: milliseconds of compute per second of audio, at the default spec, one thread.

"Compute" is the CPU time of the calling thread (``time.thread_time``; torch runs one intra-op thread,
the cochleagram kernel is single-threaded), which load from other processes on a shared machine does not
inflate; the wall-clock time is reported beside it. Every case runs in the same process on the same
signal, once to warm up and then ``--repeats`` times in turn (case A, case B, ..., then again), and the
table reports medians over the repeats.

    python -m bench.features [--seconds 10] [--repeats 7] [--json PATH]

Needs the dev extra (scipy, for the reference path): ``pip install -e '.[dev]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import torch
import torchaudio

from damer_core.features.cochleagram import CochleagramStream, cochleagram
from damer_core.features.frontend import FrontEnd
from damer_core.features.gammatone import gammatone_sos
from damer_core.features.mel import MelStream, log_mel
from damer_core.spec import FeatureSpec


def test_signal(seconds: float, spec: FeatureSpec) -> np.ndarray:
    """Deterministic music-like float32 audio: a few decaying tones and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * spec.sample_rate)) / spec.sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) * np.exp(-(t % 0.5) * 4) for f in (110.0, 440.0, 1318.5, 5274.0))
    return (0.15 * tones + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def scipy_cochleagram(audio: np.ndarray, spec: FeatureSpec, sos: np.ndarray, sosfilt: Callable) -> np.ndarray:
    """The same filters and framing with scipy's ``sosfilt``, one channel at a time, in ``audio``'s dtype
    (the float32 row is the like-for-like comparison with the float32 kernel)."""
    n_hops = audio.size // spec.hop
    span = spec.win_length // spec.hop
    n_frames = spec.n_frames(audio.size)
    out = np.empty((n_frames, sos.shape[0]), dtype=audio.dtype)
    for channel, sections in enumerate(sos):
        power = sosfilt(sections, audio)[: n_hops * spec.hop] ** 2
        hop_sums = power.reshape(n_hops, spec.hop).sum(axis=1)
        window_sums = np.convolve(hop_sums, np.ones(span, dtype=audio.dtype), mode="valid")[:n_frames]
        out[:, channel] = np.log(np.maximum(window_sums / spec.win_length, spec.cochleagram.log_floor))
    return out


def in_hops(push: Callable[[np.ndarray], object], audio: np.ndarray, hop: int) -> Callable[[], None]:
    """A case that pushes ``audio`` one hop at a time, as the live engine does."""

    def run() -> None:
        for start in range(0, audio.size, hop):
            push(audio[start : start + hop])

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per repeat (default 10)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per case (default 7)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        from scipy.signal import sosfilt
    except ImportError:
        print("bench/features.py needs scipy from the dev extra: pip install -e '.[dev]'", file=sys.stderr)
        return 2

    torch.set_num_threads(1)  # one thread everywhere; the cochleagram kernel is single-threaded anyway
    numba.set_num_threads(1)
    spec = FeatureSpec()
    audio = test_signal(args.seconds, spec)
    sos32 = gammatone_sos(spec)
    torchaudio_mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=spec.sample_rate,
        n_fft=spec.n_fft,
        win_length=spec.win_length,
        hop_length=spec.hop,
        f_min=spec.mel.f_min,
        f_max=spec.mel.f_max,
        n_mels=spec.mel.n_mels,
        power=2.0,
        center=False,
        norm=spec.mel.norm,
        mel_scale=spec.mel.mel_scale,
    )
    audio_tensor = torch.from_numpy(audio)

    def torchaudio_log_mel() -> None:
        with torch.inference_mode():
            torch.log(torch.clamp(torchaudio_mel(audio_tensor), min=spec.mel.log_floor))

    audio64 = audio.astype(np.float64)
    sos64 = sos32.astype(np.float64)
    cases: dict[str, tuple[str, Callable[[], object]]] = {
        "cochleagram": ("cochleagram, numba, offline (float32)", lambda: cochleagram(audio, spec)),
        "cochleagram_stream": (
            "cochleagram, numba, hop blocks",
            in_hops(CochleagramStream(spec).push, audio, spec.hop),
        ),
        "cochleagram_float64": (
            "cochleagram, numba, offline (float64)",
            lambda: cochleagram(audio64, spec, np.float64),
        ),
        "cochleagram_scipy": (
            "cochleagram, scipy sosfilt per channel",
            lambda: scipy_cochleagram(audio, spec, sos32, sosfilt),
        ),
        "cochleagram_scipy_float64": (
            "cochleagram, scipy sosfilt per channel (float64)",
            lambda: scipy_cochleagram(audio64, spec, sos64, sosfilt),
        ),
        "mel_stream": ("log-Mel, MelStream, hop blocks", in_hops(MelStream(spec).push, audio, spec.hop)),
        "mel_offline": ("log-Mel, log_mel, offline", lambda: log_mel(audio, spec)),
        "mel_torchaudio": ("log-Mel, torchaudio MelSpectrogram, offline", torchaudio_log_mel),
        "frontend_stream": ("both views, FrontEnd, hop blocks", in_hops(FrontEnd(spec).push, audio, spec.hop)),
    }

    for _, run in cases.values():
        run()  # warm-up: numba cache load, torch and MKL initialisation
    cpu: dict[str, list[float]] = {key: [] for key in cases}
    wall: dict[str, list[float]] = {key: [] for key in cases}
    for _ in range(args.repeats):
        for key, (_, run) in cases.items():
            start_cpu, start_wall = time.thread_time(), time.perf_counter()
            run()
            cpu[key].append((time.thread_time() - start_cpu) * 1000 / args.seconds)
            wall[key].append((time.perf_counter() - start_wall) * 1000 / args.seconds)

    cpu_ms = {key: float(np.median(values)) for key, values in cpu.items()}
    wall_ms = {key: float(np.median(values)) for key, values in wall.items()}
    # Median over repeats of the ratio within each repeat: both sides of a ratio saw the same load.
    ratio = float(np.median(np.array(cpu["cochleagram_scipy"]) / np.array(cpu["cochleagram"])))
    load = os.getloadavg()[0]
    print(
        f"{args.seconds:g} s of audio at {spec.sample_rate} Hz, median of {args.repeats}, one thread, "
        f"load average {load:.1f}"
    )
    print(f"{'case':<50} {'cpu ms/s':>9} {'x real time':>12} {'wall ms/s':>10}")
    for key, (label, _) in cases.items():
        print(f"{label:<50} {cpu_ms[key]:>9.2f} {1000 / cpu_ms[key]:>12.0f} {wall_ms[key]:>10.2f}")
    print(f"cochleagram: numba is {ratio:.0f}x faster than scipy per channel, both float32 (same run)")

    if args.json is not None:
        result = {f"{key}_ms_per_audio_s": cpu_ms[key] for key in cases}
        result |= {f"{key}_wall_ms_per_audio_s": wall_ms[key] for key in cases}
        result |= {
            "cochleagram_speedup_over_scipy": ratio,
            "audio_seconds": args.seconds,
            "repeats": args.repeats,
            "threads": 1,
            "load_average_1min": load,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
