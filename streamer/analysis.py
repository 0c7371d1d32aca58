"""Analysis of sound files with the streaming engine at fast pace: CSV, JSON summary and plot per file.

Outputs per file (see ``damer analyze``): ``<stem>.csv`` (one row per update:
``time,valence,arousal,p_high_valence,p_high_arousal``, time in seconds of audio), ``<stem>.json`` (the summary
returned by :func:`analyze_file`) and ``<stem>.png``; each is written under a temporary name and renamed
when complete.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from damer_core.bundle import Bundle
from damer_core.errors import AudioError
from streamer.atomic import atomic_path
from streamer.builder import FAST_BLOCK, build_engine
from streamer.engine import RunSummary
from streamer.log_out import CsvLog
from streamer.plot import plot_valence_arousal
from streamer.recorder import Recorder
from streamer.settings import StreamSettings
from streamer.sources.file import SoundFileReader, file_source


def analyze_file(path: Path, out: Path, stem: str, bundle: Bundle, settings: StreamSettings, stop: threading.Event) -> dict[str, Any]:
    """Run the engine over one file (fast pace) and write its CSV, JSON and PNG atomically.

    Returns:
        The file's summary (also written to ``out/<stem>.json``).

    Raises:
        AudioError: the file cannot be opened or decoded; nothing is written for it.
    """
    reader = SoundFileReader(path)
    source = file_source(reader, "fast", settings.engine.ring_seconds, FAST_BLOCK)
    recorder = Recorder()
    with atomic_path(out / f"{stem}.csv") as csv_temporary:
        log = CsvLog(csv_temporary.open("w", encoding="utf-8", newline=""), compute=False)
        engine = build_engine(bundle, source, [log, recorder], settings.engine.smoothing_s, settings.engine.max_lag_s)
        summary = engine.run(stop)
        if summary.stopped_by == "stop request":
            raise AudioError(f"{path}: interrupted")
        table = recorder.table()
        result = _file_summary(path, reader, bundle, settings, summary, table)
        with atomic_path(out / f"{stem}.png") as png_temporary:
            plot_valence_arousal(table["time"], table["valence"], table["arousal"], path.name, png_temporary)
        with atomic_path(out / f"{stem}.json") as json_temporary:
            json_temporary.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _file_summary(
    path: Path, reader: SoundFileReader, bundle: Bundle, settings: StreamSettings, summary: RunSummary, table: dict[str, np.ndarray]
) -> dict[str, Any]:
    valence, arousal = table["valence"], table["arousal"]

    def stats(x: np.ndarray) -> dict[str, float | None]:
        if x.size == 0:
            return {"mean": None, "std": None, "min": None, "max": None}
        return {"mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()), "max": float(x.max())}

    n = max(valence.size, 1)
    quadrants = {
        "high_valence_high_arousal": float(np.count_nonzero((valence >= 0) & (arousal >= 0)) / n),
        "low_valence_high_arousal": float(np.count_nonzero((valence < 0) & (arousal >= 0)) / n),
        "low_valence_low_arousal": float(np.count_nonzero((valence < 0) & (arousal < 0)) / n),
        "high_valence_low_arousal": float(np.count_nonzero((valence >= 0) & (arousal < 0)) / n),
    }
    return {
        "file": str(path),
        "status": "ok",
        "sample_rate": reader.sample_rate,
        "channels": reader.channels,
        "duration_s": reader.duration,
        "model": str(bundle.path),
        "smoothing_s": settings.engine.smoothing_s,
        "updates": summary.updates,
        "update_interval_s": bundle.model.frames_per_token * bundle.spec.hop / bundle.spec.sample_rate,
        "valence": stats(valence),
        "arousal": stats(arousal),
        "p_high_valence_mean": float(table["p_high_valence"].mean()) if valence.size else None,
        "p_high_arousal_mean": float(table["p_high_arousal"].mean()) if valence.size else None,
        "quadrant_fractions": quadrants,
        "nonfinite_samples": summary.nonfinite_samples,
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
