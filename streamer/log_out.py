"""Log files of every update: CSV or JSON Lines, chosen by the file's suffix (``.csv`` / ``.jsonl``).

CSV columns (the header line): ``time,valence,arousal,p_high_valence,p_high_arousal`` and, when compute
times are logged, ``compute_ms``. ``time`` is the update's audio time in seconds since the stream started
(see :class:`streamer.update.Update`). A JSON Lines log has one object per update with the same keys.

A write that fails (disk full, a network share gone) stops the log, not the stream: :attr:`LineLog.error`
keeps the first failure for the caller to report (a closed OSC port is treated alike).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from damer_core.errors import ConfigError
from streamer.update import StreamInfo, Update

COLUMNS = ("time", "valence", "arousal", "p_high_valence", "p_high_arousal")


class LineLog:
    """One line of text per update to an open text file (closed by :meth:`close`).

    Attributes:
        error: the first write or close that failed; nothing is written after it.
    """

    def __init__(self, file: TextIO, compute: bool = True) -> None:
        self._file = file
        self._compute = compute
        self.error: OSError | None = None

    def begin(self, info: StreamInfo) -> None:
        """Nothing to do."""

    def emit(self, update: Update) -> None:
        self._write(self.line(update))

    def line(self, update: Update) -> str:
        """The text of one update, without its line end."""
        raise NotImplementedError

    def _write(self, line: str) -> None:
        if self.error is not None:
            return
        try:
            self._file.write(line + "\n")
        except OSError as exc:
            self.error = exc

    def close(self) -> None:
        try:
            self._file.close()  # flushes; the file is closed even when that fails
        except OSError as exc:
            self.error = self.error or exc


class CsvLog(LineLog):
    """Writes a header, then one CSV row per update."""

    def __init__(self, file: TextIO, compute: bool = True) -> None:
        super().__init__(file, compute)
        self._write(",".join(COLUMNS + (("compute_ms",) if compute else ())))

    def line(self, update: Update) -> str:
        row = (
            f"{update.time:.6f},{update.valence:.9g},{update.arousal:.9g},"
            f"{update.p_high_valence:.9g},{update.p_high_arousal:.9g}"
        )
        if self._compute:
            row += f",{1000.0 * update.compute_s:.4f}"
        return row


def update_record(update: Update) -> dict[str, float]:
    """The values of one update by name (:data:`COLUMNS`; the time rounded to the microsecond): a JSON Lines
    record without its compute time, and a message of the WebSocket output."""
    return {
        "time": round(update.time, 6),
        "valence": update.valence,
        "arousal": update.arousal,
        "p_high_valence": update.p_high_valence,
        "p_high_arousal": update.p_high_arousal,
    }


class JsonlLog(LineLog):
    """Writes one JSON object per update (JSON Lines has no header)."""

    def line(self, update: Update) -> str:
        record = update_record(update)
        if self._compute:
            record["compute_ms"] = round(1000.0 * update.compute_s, 4)
        return json.dumps(record)


def open_log(path: str | Path, compute: bool = True) -> CsvLog | JsonlLog:
    """A CSV or JSON Lines log writing to ``path`` (created or truncated).

    Raises:
        ConfigError: the suffix is neither ``.csv`` nor ``.jsonl``, or the file cannot be created.
    """
    path = Path(path)
    kinds = {".csv": CsvLog, ".jsonl": JsonlLog}
    kind = kinds.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"log {path}: the file name must end in .csv or .jsonl")
    try:
        file = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"log {path}: cannot create the file ({exc.strerror or exc})") from None
    return kind(file, compute)
