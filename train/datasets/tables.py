"""Reading annotation tables: locating files, strict CSV rows, numbers, label scales and audio checks.

Every problem raises :class:`~train.errors.DatasetError` whose message starts with ``FILE:LINE`` (or the
file alone), so a user can open the offending row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.datasets.clip import DynamicLabels
from train.errors import WHERE_DATA_IS, DatasetError


@dataclass(frozen=True)
class Scale:
    """A dataset's label scale and its linear map onto [-1, 1].

    Attributes:
        name: how the scale is written in messages, e.g. ``"1..9"``.
        low: lowest valid value (maps to -1).
        high: highest valid value (maps to +1).
    """

    name: str
    low: float
    high: float

    def to_unit(self, value: float) -> float:
        """``value`` mapped linearly so that ``low -> -1`` and ``high -> +1`` (exactly the identity for
        [-1, 1])."""
        return (value - (self.high + self.low) / 2.0) / ((self.high - self.low) / 2.0)


NINE_POINT = Scale("1..9", 1.0, 9.0)  # (x - 5) / 4
UNIT_INTERVAL = Scale("0..1", 0.0, 1.0)  # 2x - 1
SIGNED_UNIT = Scale("-1..1", -1.0, 1.0)  # identity


@dataclass(frozen=True)
class Row:
    """One CSV record: its first physical line number (1-based) and its cells keyed by column name, both
    stripped of surrounding whitespace."""

    line: int
    cells: dict[str, str]


def find_optional_path(root: Path, name: str, is_dir: bool = False) -> Path | None:
    """The one file (or folder, if ``is_dir``) called ``name`` at or below ``root``, or ``None`` if there is
    none.

    Raises:
        DatasetError: ``root`` is not a folder, or more than one entry of that name exists below it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found ({WHERE_DATA_IS})")
    found = sorted(p for p in root.rglob(name) if (p.is_dir() if is_dir else p.is_file()))
    if len(found) > 1:
        kind = "folders" if is_dir else "files"
        raise DatasetError(f"{root}: {len(found)} {kind} named '{name}' ({found[0]}, {found[1]}, ...); keep one")
    return found[0] if found else None


def find_path(root: Path, name: str, is_dir: bool = False) -> Path:
    """Like :func:`find_optional_path`, but a missing entry raises :class:`DatasetError`."""
    found = find_optional_path(root, name, is_dir)
    if found is None:
        raise DatasetError(f"{root}: no {'folder' if is_dir else 'file'} named '{name}' in the dataset folder")
    return found


def read_csv(path: Path, required: Sequence[str], allowed: Sequence[str] | None = None) -> tuple[list[str], list[Row]]:
    """Read a comma-separated table with a header row.

    Header names are stripped of whitespace (DEAM writes ``" valence_mean"``); a UTF-8 byte-order mark is
    ignored; blank lines are skipped.

    Args:
        path: the CSV file.
        required: column names that must be present.
        allowed: when given, the only column names permitted.

    Returns:
        The stripped header and the rows.

    Raises:
        DatasetError: unreadable file, missing/unknown/duplicate column, or a row with the wrong number of
            fields.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            if not header:
                raise DatasetError(f"{path}: empty file, expected a header row")
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise DatasetError(f"{path}:1: column '{duplicated[0]}' appears more than once")
            missing = [name for name in required if name not in header]
            if missing:
                raise DatasetError(f"{path}:1: missing column '{missing[0]}' (found: {', '.join(header)})")
            unknown = [name for name in header if allowed is not None and name not in allowed]
            if unknown:
                raise DatasetError(f"{path}:1: unknown column '{unknown[0]}' (allowed: {', '.join(allowed or ())})")
            rows = []
            line = reader.line_num + 1
            for record in reader:
                if any(cell.strip() for cell in record):
                    if len(record) != len(header):
                        raise DatasetError(f"{path}:{line}: expected {len(header)} fields, got {len(record)}")
                    rows.append(Row(line, {name: cell.strip() for name, cell in zip(header, record, strict=True)}))
                line = reader.line_num + 1
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: malformed CSV ({exc})") from None
    return header, rows


def parse_number(path: Path, row: Row, column: str) -> float:
    """The finite number in ``row[column]``; raises :class:`DatasetError` naming file, line and column."""
    text = row.cells[column]
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{path}:{row.line}: column '{column}': expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise DatasetError(f"{path}:{row.line}: column '{column}': expected a finite number, got {text!r}")
    return value


def parse_label(path: Path, row: Row, column: str, scale: Scale) -> float:
    """The label in ``row[column]``, checked against ``scale`` and mapped onto [-1, 1]."""
    value = parse_number(path, row, column)
    if not scale.low <= value <= scale.high:
        raise DatasetError(f"{path}:{row.line}: column '{column}': {value:g} is outside the {scale.name} label scale")
    return scale.to_unit(value)


def require_audio(audio: Path, path: Path, row: Row | None = None) -> Path:
    """``audio`` if it is an existing file; otherwise a :class:`DatasetError` naming the table and row that
    refer to it."""
    if not audio.is_file():
        where = f"{path}:{row.line}" if row is not None else str(path)
        raise DatasetError(f"{where}: audio file {audio} not found")
    return audio


def dynamic_from_points(path: Path, song: str, points: Sequence[tuple[float, float, float, int]]) -> DynamicLabels:
    """Sort ``(time_s, valence, arousal, line)`` points of one song into :class:`DynamicLabels`.

    Raises:
        DatasetError: two points of the song share a time (names both lines) or a time is negative.
    """
    ordered = sorted(points, key=lambda point: (point[0], point[3]))
    for (t0, _, _, line0), (t1, _, _, line1) in zip(ordered, ordered[1:], strict=False):
        if t1 == t0:
            raise DatasetError(f"{path}:{line1}: '{song}' has a second label at {t1:g} s (first at line {line0})")
    if ordered[0][0] < 0:
        raise DatasetError(f"{path}:{ordered[0][3]}: negative time {ordered[0][0]:g} s")
    times, valence, arousal, _ = zip(*ordered, strict=True)
    return DynamicLabels(
        np.asarray(times, dtype=np.float64),
        np.asarray(valence, dtype=np.float32),
        np.asarray(arousal, dtype=np.float32),
    )


def group_rows(rows: Sequence[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    """Rows grouped by ``key(row)``, in order of first appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups
