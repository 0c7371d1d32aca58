"""The table layout DEAM and EmoMusic (the "1000 songs") share.

- Static labels: one row per song with a song id and mean valence/arousal on a 1..9 scale, mapped to
  [-1, 1] by ``(x - 5) / 4``.
- Dynamic labels: two "wide" tables (valence, arousal), one row per song, a ``song_id`` column and one
  column per instant named ``sample_<milliseconds>ms`` (2 Hz from 15 s), values already in [-1, 1]; songs
  shorter than the longest leave their trailing cells empty.
- Audio: ``<audio_dir>/<song_id>.mp3``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from train.datasets.clip import Clip, DynamicLabels
from train.datasets.tables import (
    NINE_POINT,
    SIGNED_UNIT,
    parse_label,
    read_csv,
    require_audio,
)
from train.errors import DatasetError

_SAMPLE_COLUMN = re.compile(r"sample_(\d+)ms")


def read_wide_dynamic(path: Path, id_column: str = "song_id") -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """One wide dynamic table: ``{song_id: (times_s (k,), values (k,) in [-1, 1], line)}`` with empty cells
    left out.

    Raises:
        DatasetError: a column other than ``id_column`` not named ``sample_<ms>ms``, times not increasing,
            a repeated song, a non-number or a value outside [-1, 1] (naming file, line and column).
    """
    header, rows = read_csv(path, required=[id_column])
    sample_columns = [name for name in header if name != id_column]
    times = []
    for name in sample_columns:
        match = _SAMPLE_COLUMN.fullmatch(name)
        if match is None:
            raise DatasetError(f"{path}:1: column '{name}' is not of the form sample_<milliseconds>ms")
        times.append(int(match.group(1)) / 1000.0)
    if np.any(np.diff(times) <= 0):
        raise DatasetError(f"{path}:1: sample_<ms>ms columns must have increasing times")
    table: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for row in rows:
        song = row.cells[id_column]
        if song in table:
            raise DatasetError(f"{path}:{row.line}: song '{song}' appears again (first at line {table[song][2]})")
        present = [(t, c) for t, c in zip(times, sample_columns, strict=True) if row.cells[c] != ""]
        values = [parse_label(path, row, column, SIGNED_UNIT) for _, column in present]
        instants = np.asarray([t for t, _ in present], dtype=np.float64)
        table[song] = (instants, np.asarray(values, dtype=np.float32), row.line)
    return table


def merge_dynamic(
    valence: dict[str, tuple[np.ndarray, np.ndarray, int]], arousal: dict[str, tuple[np.ndarray, np.ndarray, int]]
) -> dict[str, DynamicLabels]:
    """Combine the two wide tables per song on the union of their instants (``NaN`` where one dimension has
    no value at an instant). Songs with no value in either table are left out."""
    empty = (np.zeros(0), np.zeros(0, dtype=np.float32), 0)
    merged: dict[str, DynamicLabels] = {}
    for song in sorted(set(valence) | set(arousal)):
        (tv, v, _), (ta, a, _) = valence.get(song, empty), arousal.get(song, empty)
        times = np.union1d(tv, ta)
        if times.size:
            values = np.full((2, times.size), np.nan, dtype=np.float32)
            values[0, np.searchsorted(times, tv)] = v
            values[1, np.searchsorted(times, ta)] = a
            merged[song] = DynamicLabels(times, values[0], values[1])
    return merged


def read_song_tables(
    source: str,
    static_paths: list[Path],
    id_column: str,
    valence_column: str,
    arousal_column: str,
    dynamic_paths: tuple[Path, Path] | None,
    audio_dir: Path,
) -> list[Clip]:
    """Clips of a DEAM-like dataset (see the module docstring), in song order of the static tables.

    Args:
        source: the clips' ``source`` name.
        static_paths: static tables, read in order; a song may appear only once across them.
        id_column: song id column of the static tables.
        valence_column: mean valence column (1..9).
        arousal_column: mean arousal column (1..9).
        dynamic_paths: ``(valence table, arousal table)`` of dynamic labels, or ``None`` to skip them.
        audio_dir: folder holding ``<song_id>.mp3``.

    Raises:
        DatasetError: any malformed table, out-of-range label, missing audio, a song repeated across static
            tables, or dynamic labels for a song without static labels.
    """
    clips: list[Clip] = []
    seen: dict[str, str] = {}
    rows_by_song = []
    for path in static_paths:
        _, rows = read_csv(path, required=[id_column, valence_column, arousal_column])
        for row in rows:
            song = row.cells[id_column]
            if song in seen:
                raise DatasetError(f"{path}:{row.line}: song '{song}' appears again (first in {seen[song]})")
            seen[song] = f"{path}:{row.line}"
            rows_by_song.append((path, row, song))
    dynamic: dict[str, DynamicLabels] = {}
    if dynamic_paths is not None:
        valence_path, arousal_path = dynamic_paths
        dynamic = merge_dynamic(read_wide_dynamic(valence_path), read_wide_dynamic(arousal_path))
        orphans = sorted(set(dynamic) - set(seen))
        if orphans:
            raise DatasetError(f"{valence_path.parent}: song '{orphans[0]}' has dynamic labels but no static row")
    for path, row, song in rows_by_song:
        clips.append(
            Clip(
                track_id=song,
                source=source,
                group=song,
                valence=parse_label(path, row, valence_column, NINE_POINT),
                arousal=parse_label(path, row, arousal_column, NINE_POINT),
                audio_path=require_audio(audio_dir / f"{song}.mp3", path, row),
                dynamic=dynamic.get(song),
            )
        )
    return clips
