"""Analysis of sound files with the streaming engine at fast pace: CSV, JSON summary and plot per file.

Outputs per file (see ``damer analyze``): ``<stem>.csv`` (one row per update:
``time,valence,arousal,p_high_valence,p_high_arousal``, time in seconds of audio), ``<stem>.json`` (the summary
returned by :func:`analyze_file`) and ``<stem>.png``; each is written under a temporary name and renamed
when complete, so an interrupted run never leaves a partial file under a final name.

A file fails (:class:`~damer_core.errors.AudioError`, nothing written for it) when it cannot be opened or
decoded, when it is too short for a single update, or when the model's output is not finite. A file that is
analysed but deserves a second look gets ``warnings`` in its summary: non-finite samples replaced by 0,
damaged samples of absurd magnitude clipped, damaged data the MP3 decoder skipped, or less audio than its header announced.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from damer_core.atomic import atomic_path
from damer_core.bundle import Bundle
from damer_core.errors import AudioError
from damer_core.features.signal import SAMPLE_LIMIT
from streamer.builder import FAST_BLOCK, build_engine
from streamer.engine import RunSummary
from streamer.log_out import CsvLog
from streamer.plot import plot_valence_arousal
from streamer.recorder import Recorder
from streamer.settings import StreamSettings
from streamer.sources.file import SoundFileReader, file_source

SHORT_OF_HEADER = (0.2, 0.01)
"""A file decoded shorter than its header announces by more than both of these (seconds, fraction of the
announced length) gets a warning: MP3 headers only estimate the length (encoder delay and padding make
them differ by ~0.1 s), a truncated download differs by much more."""


def analyze_file(
    path: Path, out: Path, stem: str, bundle: Bundle, settings: StreamSettings, stop: threading.Event
) -> dict[str, Any]:
    """Run the engine over one file (fast pace) and write its CSV, JSON and PNG atomically.

    Returns:
        The file's summary (also written to ``out/<stem>.json``); ``warnings`` lists what deserves a look.

    Raises:
        AudioError: the file cannot be opened or decoded, is too short for one update, its analysis gave
            non-finite values, or ``stop`` was set; nothing is written for it.
    """
    reader = SoundFileReader(path)
    source = file_source(reader, "fast", settings.engine.ring_seconds, FAST_BLOCK)
    recorder = Recorder()
    with atomic_path(out / f"{stem}.csv") as csv_temporary:
        log = CsvLog(csv_temporary.open("w", encoding="utf-8", newline=""), compute=False)
        engine = build_engine(bundle, source, [log, recorder], settings.engine.smoothing_s, settings.engine.max_lag_s)
        try:
            summary = engine.run(stop)
        except AudioError as exc:
            # Decoding errors name the file already; errors of the front-end or the model do not.
            raise AudioError(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}") from None
        if log.error is not None:
            raise log.error  # writing the results failed (disk full...): the caller stops the run
        if summary.stopped_by == "stop request":
            raise AudioError(f"{path}: interrupted")
        table = recorder.table()
        _check_results(path, bundle, summary, table)
        result = _file_summary(path, reader, bundle, settings, summary, table)
        with atomic_path(out / f"{stem}.png") as png_temporary:
            plot_valence_arousal(table["time"], table["valence"], table["arousal"], path.name, png_temporary)
        with atomic_path(out / f"{stem}.json") as json_temporary:
            json_temporary.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return result


def _check_results(path: Path, bundle: Bundle, summary: RunSummary, table: dict[str, np.ndarray]) -> None:
    if summary.updates == 0:
        needed = bundle.model.token_end_seconds(0)
        raise AudioError(
            f"{path}: too short: {summary.audio_s:.3f} s of audio, the model needs {needed:.3f} s for its first update"
        )
    values = np.stack([table[name] for name in ("valence", "arousal", "p_high_valence", "p_high_arousal")], axis=1)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = float(table["time"][np.argmax(bad)])
        raise AudioError(
            f"{path}: the model's output is not finite for {int(bad.sum())} of {bad.size} updates (first at "
            f"{first:.2f} s): the model bundle is damaged"
        )


def _warnings(reader: SoundFileReader, summary: RunSummary) -> list[str]:
    warnings = []
    if summary.nonfinite_samples:
        warnings.append(f"{summary.nonfinite_samples} non-finite samples (NaN/inf) replaced by 0")
    if summary.clipped_samples:
        warnings.append(f"{summary.clipped_samples} damaged samples beyond +-{SAMPLE_LIMIT:g} clipped")
    if reader.damage_messages:
        warnings.append(
            f"the decoder skipped damaged data ({reader.damage_messages} report(s), first: {reader.first_damage!r})"
        )
    shortfall = reader.duration - summary.audio_s
    seconds, fraction = SHORT_OF_HEADER
    if shortfall > seconds and shortfall > fraction * reader.duration:
        warnings.append(
            f"decoded {summary.audio_s:.2f} s of the {reader.duration:.2f} s the header announces (truncated?)"
        )
    return warnings


def _file_summary(
    path: Path,
    reader: SoundFileReader,
    bundle: Bundle,
    settings: StreamSettings,
    summary: RunSummary,
    table: dict[str, np.ndarray],
) -> dict[str, Any]:
    valence, arousal = table["valence"], table["arousal"]

    def stats(x: np.ndarray) -> dict[str, float]:
        return {"mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()), "max": float(x.max())}

    n = valence.size
    quadrants = {
        "high_valence_high_arousal": float(np.count_nonzero((valence >= 0) & (arousal >= 0)) / n),
        "low_valence_high_arousal": float(np.count_nonzero((valence < 0) & (arousal >= 0)) / n),
        "low_valence_low_arousal": float(np.count_nonzero((valence < 0) & (arousal < 0)) / n),
        "high_valence_low_arousal": float(np.count_nonzero((valence >= 0) & (arousal < 0)) / n),
    }
    return {
        "file": str(path),
        "status": "ok",
        "warnings": _warnings(reader, summary),
        "sample_rate": reader.sample_rate,
        "channels": reader.channels,
        "duration_s": summary.audio_s,
        "header_duration_s": reader.duration,
        "model": str(bundle.path),
        "smoothing_s": settings.engine.smoothing_s,
        "updates": summary.updates,
        "update_interval_s": bundle.model.frames_per_token * bundle.spec.hop / bundle.spec.sample_rate,
        "valence": stats(valence),
        "arousal": stats(arousal),
        "p_high_valence_mean": float(table["p_high_valence"].mean()),
        "p_high_arousal_mean": float(table["p_high_arousal"].mean()),
        "quadrant_fractions": quadrants,
        "nonfinite_samples": summary.nonfinite_samples,
        "clipped_samples": summary.clipped_samples,
        "decoder_messages": reader.decoder_messages,
        "x_realtime": summary.audio_s / summary.wall_s if summary.wall_s > 0 else 0.0,
        "compute_ms_mean": 1000 * summary.compute.mean,
        "compute_ms_p99": 1000 * summary.compute.percentile(99),
    }


def unique_stem(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... when already in ``used``; the result is added to ``used``."""
    candidate, i = stem, 1
    while candidate in used:
        i += 1
        candidate = f"{stem}-{i}"
    used.add(candidate)
    return candidate
