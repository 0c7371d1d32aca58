"""One analysed file's outputs: its table of updates -> CSV, JSON summary and plot, written atomically.

Outputs per file (see ``damer analyze``): ``<stem>.csv`` (one row per update:
``time,valence,arousal,p_high_valence,p_high_arousal``, time in seconds of audio), ``<stem>.json`` (the summary
of :func:`file_summary`) and ``<stem>.png`` (unless plots are off). :func:`render` makes them in memory, in
whichever process computed the file; :func:`write_outputs` writes each under a temporary name and renames
it when complete, the JSON last, so an interrupted run never leaves a partial file under a final name and a
file whose JSON is there has all its outputs (:func:`complete_summary`, what ``--skip-existing`` relies on).
Everything in them follows from the input and the model: the same file gives the same bytes on every run.

A file fails (:class:`~damer_core.errors.AudioError`, nothing written for it) when it cannot be opened or
decoded, when it is too short for a single update, or when the model's output is not finite. A file that is
analysed but deserves a second look gets ``warnings`` in its summary: non-finite samples replaced by 0,
damaged samples of absurd magnitude clipped, damaged data the MP3 decoder skipped, or less audio than its
header announced.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from damer_core.atomic import atomic_path
from damer_core.bundle import Bundle
from damer_core.errors import AudioError
from damer_core.features.signal import SAMPLE_LIMIT
from streamer.batch.compute import FileTable
from streamer.log_out import COLUMNS, CsvLog
from streamer.update import Update

SHORT_OF_HEADER = (0.2, 0.01)
"""A file decoded shorter than its header announces by more than both of these (seconds, fraction of the
announced length) gets a warning: MP3 headers only estimate the length (encoder delay and padding make
them differ by ~0.1 s), a truncated download differs by much more."""


@dataclass(frozen=True)
class OutputOptions:
    """What every file's outputs record and include.

    Attributes:
        model: the model bundle as the run names it (recorded in each summary).
        smoothing_s: the smoothing time constant the values were computed with, seconds.
        plot: whether to draw the PNG.
    """

    model: str
    smoothing_s: float
    plot: bool = True


@dataclass(frozen=True)
class FileOutputs:
    """One file's outputs, rendered and not yet written.

    Attributes:
        summary: the JSON summary as a dict (``status`` ``"ok"``).
        csv, json: the files' bytes.
        png: the plot's bytes, or None when plots are off.
        wall_s: time spent computing the file (for the terminal; not written anywhere).
    """

    summary: dict[str, Any]
    csv: bytes
    json: bytes
    png: bytes | None
    wall_s: float


def render(path: Path, computed: FileTable, bundle: Bundle, options: OutputOptions) -> FileOutputs:
    """The CSV, JSON summary and plot of one computed file.

    Raises:
        AudioError: too short for one update, or the model's output is not finite.
    """
    table = computed.table
    _check_results(path, bundle, computed)
    summary = file_summary(path, computed, bundle, options)
    text = io.StringIO(newline="")
    log = CsvLog(text, compute=False)
    update = Update()
    for row in zip(*(table[name].tolist() for name in COLUMNS), strict=True):
        update.time, update.valence, update.arousal, update.p_high_valence, update.p_high_arousal = row
        log.emit(update)
    csv = text.getvalue().encode("utf-8")
    png = None
    if options.plot:
        from streamer.plot import plot_valence_arousal  # matplotlib: imported only where plots are drawn

        picture = io.BytesIO()
        plot_valence_arousal(table["time"], table["valence"], table["arousal"], path.name, picture)
        png = picture.getvalue()
    json_bytes = (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode("utf-8")
    return FileOutputs(summary, csv, json_bytes, png, computed.wall_s)


def write_outputs(out: Path, stem: str, outputs: FileOutputs) -> None:
    """Write ``out/<stem>.csv``, ``.png`` (when drawn) and ``.json``, each atomically, the JSON last.

    Raises:
        OSError: writing failed (disk full, ...); what was not renamed into place is removed.
    """
    files = [(".csv", outputs.csv), (".png", outputs.png), (".json", outputs.json)]
    for suffix, data in files:
        if data is not None:
            with atomic_path(out / f"{stem}{suffix}") as temporary:
                temporary.write_bytes(data)


def complete_summary(out: Path, stem: str, path: Path, options: OutputOptions) -> dict[str, Any] | None:
    """The summary of ``path``'s outputs under ``stem`` when they are complete and of this analysis (the
    same input, model and smoothing; the plot there when plots are on), else None."""
    try:
        summary = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    wanted = {"file": str(path), "status": "ok", "model": options.model, "smoothing_s": options.smoothing_s}
    if any(summary.get(key) != value for key, value in wanted.items()):
        return None
    needed = [f"{stem}.csv"] + ([f"{stem}.png"] if options.plot else [])
    if not all((out / name).is_file() for name in needed):
        return None
    return summary


def _check_results(path: Path, bundle: Bundle, computed: FileTable) -> None:
    table = computed.table
    if table["time"].size == 0:
        needed = bundle.model.token_end_seconds(0)
        raise AudioError(
            f"{path}: too short: {computed.audio_s:.3f} s of audio, the model needs {needed:.3f} s for its first update"
        )
    values = np.stack([table[name] for name in COLUMNS[1:]], axis=1)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = float(table["time"][np.argmax(bad)])
        raise AudioError(
            f"{path}: the model's output is not finite for {int(bad.sum())} of {bad.size} updates (first at "
            f"{first:.2f} s): the model bundle is damaged"
        )


def _warnings(computed: FileTable) -> list[str]:
    reader = computed.reader
    warnings = []
    if computed.nonfinite_samples:
        warnings.append(f"{computed.nonfinite_samples} non-finite samples (NaN/inf) replaced by 0")
    if computed.clipped_samples:
        warnings.append(f"{computed.clipped_samples} damaged samples beyond +-{SAMPLE_LIMIT:g} clipped")
    if reader.damage_messages:
        warnings.append(
            f"the decoder skipped damaged data ({reader.damage_messages} report(s), first: {reader.first_damage!r})"
        )
    shortfall = reader.duration - computed.audio_s
    seconds, fraction = SHORT_OF_HEADER
    if shortfall > seconds and shortfall > fraction * reader.duration:
        warnings.append(
            f"decoded {computed.audio_s:.2f} s of the {reader.duration:.2f} s the header announces (truncated?)"
        )
    return warnings


def quadrant_fractions(valence: np.ndarray, arousal: np.ndarray) -> dict[str, float]:
    """Share of the updates in each Russell quadrant; a value is high when > 0 (the threshold of the
    high/low scores): Q1 high V high A, Q2 low V high A, Q3 low V low A, Q4 high V low A."""
    n = valence.size
    high_v, high_a = valence > 0, arousal > 0
    return {
        "high_valence_high_arousal": float(np.count_nonzero(high_v & high_a) / n),
        "low_valence_high_arousal": float(np.count_nonzero(~high_v & high_a) / n),
        "low_valence_low_arousal": float(np.count_nonzero(~high_v & ~high_a) / n),
        "high_valence_low_arousal": float(np.count_nonzero(high_v & ~high_a) / n),
    }


def file_summary(path: Path, computed: FileTable, bundle: Bundle, options: OutputOptions) -> dict[str, Any]:
    """The JSON summary of one analysed file (``status`` ``"ok"``)."""
    reader, table = computed.reader, computed.table
    valence, arousal = table["valence"], table["arousal"]

    def stats(x: np.ndarray) -> dict[str, float]:
        return {"mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()), "max": float(x.max())}

    return {
        "file": str(path),
        "status": "ok",
        "warnings": _warnings(computed),
        "sample_rate": reader.sample_rate,
        "channels": reader.channels,
        "duration_s": computed.audio_s,
        "header_duration_s": reader.duration,
        "model": options.model,
        "smoothing_s": options.smoothing_s,
        "updates": int(table["time"].size),
        "update_interval_s": bundle.model.frames_per_token * bundle.spec.hop / bundle.spec.sample_rate,
        "valence": stats(valence),
        "arousal": stats(arousal),
        "p_high_valence_mean": float(table["p_high_valence"].mean()),
        "p_high_arousal_mean": float(table["p_high_arousal"].mean()),
        "quadrant_fractions": quadrant_fractions(valence, arousal),
        "nonfinite_samples": computed.nonfinite_samples,
        "clipped_samples": computed.clipped_samples,
        "decoder_messages": reader.decoder_messages,
    }


def unique_stem(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... when already in ``used``; the result is added to ``used``."""
    candidate, i = stem, 1
    while candidate in used:
        i += 1
        candidate = f"{stem}-{i}"
    used.add(candidate)
    return candidate
