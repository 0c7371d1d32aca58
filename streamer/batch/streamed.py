"""The same table from the live engine (:mod:`streamer.engine` at fast pace): the reference the batch path is
tested against, and the "live engine" row of ``bench.analyze_speed`` (how ``damer analyze`` computed every
file before the batch path)."""

from __future__ import annotations

import threading
from pathlib import Path

from damer_core.bundle import Bundle
from streamer.batch.compute import FileTable
from streamer.builder import FAST_BLOCK, build_engine
from streamer.recorder import Recorder
from streamer.settings import EngineSettings
from streamer.sources.file import SoundFileReader, file_source


def stream_table(
    path: Path, bundle: Bundle, smoothing_s: float = 0.0, stop: threading.Event | None = None
) -> FileTable:
    """Run the engine over ``path`` as fast as it goes and keep every update.

    Raises:
        AudioError: the file cannot be opened or decoded.
    """
    reader = SoundFileReader(path)
    engine_settings = EngineSettings()
    source = file_source(reader, "fast", engine_settings.ring_seconds, FAST_BLOCK)
    recorder = Recorder()
    engine = build_engine(bundle, source, [recorder], smoothing_s, engine_settings.max_lag_s)
    summary = engine.run(stop)
    return FileTable(
        reader, recorder.table(), summary.audio_s, summary.nonfinite_samples, summary.clipped_samples, summary.wall_s
    )
