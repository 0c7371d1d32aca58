"""The run's own records in ``--out``: ``summary.json`` and the catalogue ``index.csv``.

Both list the files that have a result (analysed, failed, or found complete by ``--skip-existing``) in the
order of the inputs, whatever order they finished in, and are rewritten atomically as the run goes (at
most once per :data:`REWRITE_S` seconds, and always at the end or on a stop): a reader sees a whole file,
never a part. After a kill they may miss the last second's files, whose outputs are there all the same; a
resumed run (``--skip-existing``) rebuilds both from every complete file.

``index.csv`` has one row per file and the columns of :data:`INDEX_COLUMNS`:

* ``path``: the input as given (or as the folder walk or the pattern found it);
* ``status``: ``ok`` or ``failed``;
* ``duration_s``: seconds of audio decoded; ``updates``: rows of its CSV;
* ``valence_mean``, ``valence_sd``, ``arousal_mean``, ``arousal_sd``: over its updates (population sd);
* ``q1`` .. ``q4``: share of its updates in each Russell quadrant (Q1 V>0 A>0, Q2 V<=0 A>0, Q3 V<=0 A<=0,
  Q4 V>0 A<=0);
* ``warnings``: the file's warnings joined by ``"; "``; ``reason``: why it failed.

Numbers are written with fixed decimals, so the same results give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from damer_core.atomic import atomic_path

INDEX_COLUMNS = (
    "path",
    "status",
    "duration_s",
    "updates",
    "valence_mean",
    "valence_sd",
    "arousal_mean",
    "arousal_sd",
    "q1",
    "q2",
    "q3",
    "q4",
    "warnings",
    "reason",
)

REWRITE_S = 1.0
"""Least time between two rewrites of the records while the run goes on."""

_QUADRANTS = (
    "high_valence_high_arousal",
    "low_valence_high_arousal",
    "low_valence_low_arousal",
    "high_valence_low_arousal",
)


def index_row(path: str, entry: dict[str, Any]) -> list[str]:
    """The ``index.csv`` row of one file from its summary entry (a file's JSON summary, or
    ``{"file", "status": "failed", "reason"}``)."""
    if entry["status"] != "ok":
        return [path, "failed"] + [""] * (len(INDEX_COLUMNS) - 4) + ["", entry.get("reason", "")]
    fractions = entry["quadrant_fractions"]
    return [
        path,
        "ok",
        f"{entry['duration_s']:.3f}",
        str(entry["updates"]),
        f"{entry['valence']['mean']:.6f}",
        f"{entry['valence']['std']:.6f}",
        f"{entry['arousal']['mean']:.6f}",
        f"{entry['arousal']['std']:.6f}",
        *(f"{fractions[name]:.6f}" for name in _QUADRANTS),
        "; ".join(entry["warnings"]),
        "",
    ]


class RunRecords:
    """The results of a run by input position, and the two files that record them.

    Args:
        out: the output folder.
        paths: every input of the run, in order (as ``index.csv`` names them).
        model: the model bundle as the run names it; model_card: its card (both go into ``summary.json``).
    """

    def __init__(self, out: Path, paths: list[str], model: str, model_card: dict[str, Any]) -> None:
        self.out = out
        self.paths = paths
        self.model = model
        self.model_card = model_card
        self.entries: dict[int, dict[str, Any]] = {}
        self._written_at = -float("inf")

    def set(self, index: int, entry: dict[str, Any]) -> None:
        """Record the result of input ``index`` (its summary entry); rewrite the files when due."""
        self.entries[index] = entry
        if time.monotonic() - self._written_at >= REWRITE_S:
            self.write(complete=False)

    @property
    def failed(self) -> int:
        """How many recorded files failed."""
        return sum(entry["status"] != "ok" for entry in self.entries.values())

    def write(self, complete: bool) -> None:
        """Rewrite ``summary.json`` and ``index.csv`` atomically (``complete``: every input has its result).

        Raises:
            OSError: writing failed.
        """
        order = sorted(self.entries)
        summary = {
            "model": self.model,
            "model_card": self.model_card,
            "complete": complete,
            "files": [self.entries[i] for i in order],
        }
        with atomic_path(self.out / "summary.json") as temporary:
            temporary.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        table = io.StringIO(newline="")
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(index_row(self.paths[i], self.entries[i]) for i in order)
        with atomic_path(self.out / "index.csv") as temporary:
            temporary.write_text(table.getvalue(), encoding="utf-8", newline="")
        self._written_at = time.monotonic()
