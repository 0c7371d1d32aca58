"""Reader for labelled audio in the project's own format: a folder of audio files and one CSV table.

Format of the table (UTF-8, comma-separated, header row required; column order free)::

    path,valence,arousal,time,group
    calm/piano.wav,-0.2,-0.6,,
    songs/rise.flac,0.1,-0.5,0.0,album-a
    songs/rise.flac,0.4,0.3,5.0,album-a
    songs/rise.flac,0.5,0.8,10.0,album-a

- ``path`` (required): the audio file, relative to the folder that holds the table (``/`` separators;
  absolute paths are refused so a corpus can move). wav, flac, ogg, opus and mp3 are read.
- ``valence``, ``arousal`` (required): numbers in [-1, 1] (map other scales before writing the table;
  values outside raise an error). An empty cell means that dimension is not labelled.
- ``time`` (optional column): seconds from the start of the file. A row with a time is a dynamic label at
  that instant (a file may have many; their times must differ); a row with an empty time, or any row when
  the column is absent, is the file's clip-level label (at most one per file). A file with dynamic rows and
  no clip-level row gets, per dimension, the mean of its dynamic labels as its clip-level label.
- ``group`` (optional column): split unit (artist, album, generator seed...); a file's rows must not
  disagree. Default: the path itself (each file its own group).

No other columns are allowed, so a misspelt header is an error rather than silently ignored. Rows of one
file need not be adjacent. The synthetic corpus writes this format.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath

import numpy as np

from train.datasets.clip import Clip
from train.datasets.tables import (
    SIGNED_UNIT,
    Row,
    dynamic_from_points,
    group_rows,
    parse_label,
    parse_number,
    read_csv,
    require_audio,
)
from train.errors import DatasetError

COLUMNS = ("path", "valence", "arousal", "time", "group")


def _optional_label(path: Path, row: Row, column: str) -> float:
    return parse_label(path, row, column, SIGNED_UNIT) if row.cells[column] else math.nan


def _mean_of_labelled(values: np.ndarray) -> float:
    labelled = values[~np.isnan(values)]
    return float(labelled.mean()) if labelled.size else math.nan


def _clip(csv_path: Path, name: str, rows: list[Row], source: str) -> Clip:
    relative = PurePosixPath(name)
    if not name or relative.is_absolute():
        raise DatasetError(f"{csv_path}:{rows[0].line}: path {name!r} must be a path relative to the table's folder")
    groups = sorted({r.cells["group"] for r in rows if r.cells.get("group")})
    if len(groups) > 1:
        raise DatasetError(f"{csv_path}:{rows[-1].line}: rows of '{name}' disagree on group ({', '.join(groups)})")
    static = [r for r in rows if not r.cells.get("time")]
    if len(static) > 1:
        raise DatasetError(
            f"{csv_path}:{static[1].line}: second clip-level label for '{name}' (first at line {static[0].line})"
        )
    points = [
        (
            parse_number(csv_path, r, "time"),
            _optional_label(csv_path, r, "valence"),
            _optional_label(csv_path, r, "arousal"),
            r.line,
        )
        for r in rows
        if r.cells.get("time")
    ]
    dynamic = dynamic_from_points(csv_path, name, points) if points else None
    if static:
        valence, arousal = (_optional_label(csv_path, static[0], column) for column in ("valence", "arousal"))
    else:
        valence, arousal = _mean_of_labelled(dynamic.valence), _mean_of_labelled(dynamic.arousal)
    return Clip(
        track_id=name,
        source=source,
        group=groups[0] if groups else name,
        valence=valence,
        arousal=arousal,
        audio_path=require_audio(csv_path.parent.joinpath(*relative.parts), csv_path, rows[0]),
        dynamic=dynamic,
    )


def read_labelled_csv(csv_path: str | Path, source: str = "own") -> list[Clip]:
    """Every file listed in the table at ``csv_path`` (format in the module docstring), in order of first
    appearance, as clips named ``source``.

    Raises:
        DatasetError: a missing, unknown or repeated column, a malformed row, a label outside [-1, 1], a
            repeated instant or clip-level row, conflicting groups, an absolute path or missing audio (naming
            the file and line).
    """
    csv_path = Path(csv_path)
    _, rows = read_csv(csv_path, required=["path", "valence", "arousal"], allowed=COLUMNS)
    by_file = group_rows(rows, lambda r: r.cells["path"])
    return [_clip(csv_path, name, file_rows, source) for name, file_rows in by_file.items()]
