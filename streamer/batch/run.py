"""The command's side of a ``damer analyze`` run: jobs out to a backend, results back into ``--out``.

Only this process writes into ``--out``: each file's outputs as its result arrives
(:func:`streamer.analysis.write_outputs`), and the run's records, ``summary.json`` and ``index.csv``
(:class:`~streamer.batch.catalogue.RunRecords`), in input order whatever order the files finish in. Each
file gets one line on standard error as it finishes, ``[k/N]`` giving its position among the N inputs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from damer_core.errors import ConfigError, DamerError
from streamer.analysis import OutputOptions, complete_summary, write_outputs
from streamer.batch.catalogue import RunRecords
from streamer.batch.inputs import Input
from streamer.batch.task import FileResult, Job
from streamer.progress import Progress


class Backend(Protocol):
    """Runs groups of jobs (see :mod:`streamer.batch.jobs`)."""

    def results(self, groups: Sequence[Sequence[Job]], stop: threading.Event) -> Iterator[FileResult]:
        """Results as groups finish; after ``stop`` is set, only those of work already running."""


@dataclass(frozen=True)
class Plan:
    """One run: its inputs with their output stems, where the outputs go and what they hold.

    Attributes:
        inputs, stems: the inputs in order, and the stem of each one's outputs (unique, stable across runs).
        out: the output folder.
        options: the outputs' options.
        skip_existing: leave out the inputs whose outputs in ``out`` are complete.
    """

    inputs: list[Input]
    stems: list[str]
    out: Path
    options: OutputOptions
    skip_existing: bool = False

    def pending(self, records: RunRecords) -> list[Job]:
        """The jobs of the run; with ``skip_existing``, the complete files are recorded instead."""
        jobs = []
        for index, (item, stem) in enumerate(zip(self.inputs, self.stems, strict=True)):
            summary = None
            if self.skip_existing and item.problem is None:
                summary = complete_summary(self.out, stem, item.path, self.options)
            if summary is None:
                jobs.append(Job(index, item.path, item.problem))
            else:
                records.entries[index] = summary
        return jobs


def execute(
    plan: Plan,
    backend: Backend,
    group: Callable[[list[Job]], list[list[Job]]],
    model_card: dict[str, Any],
    stop: threading.Event,
) -> int:
    """Run ``plan`` on ``backend`` until done or ``stop``; returns the exit status (0, 1 when a file failed,
    130 when stopped).

    Raises:
        ConfigError: the outputs could not be written (disk full, ...): the run stops there.
        DamerError: the backend cannot go on (worker processes that cannot start, a cluster lost); the records
            list what was done.
    """
    out, total = plan.out, len(plan.inputs)
    records = RunRecords(out, [str(item.path) for item in plan.inputs], plan.options.model, model_card)
    jobs = plan.pending(records)
    skipped = len(records.entries)
    if skipped:
        print(f"{skipped} of {total} file(s) have complete outputs in {out}: skipped", file=sys.stderr)
    progress = Progress(total, sys.stderr, done=skipped)
    try:
        _collect(plan, backend.results(group(jobs), stop), records, progress)
    except DamerError:
        _write_if_possible(records)
        raise
    finally:
        progress.close()
    _write(records, complete=not stop.is_set())
    summary = out / "summary.json"
    if stop.is_set():
        print(f"interrupted after {len(records.entries)} of {total} file(s); summary: {summary}", file=sys.stderr)
        return 130
    failed = records.failed
    before = f"; {skipped} complete before, skipped" if skipped else ""
    print(f"{len(records.entries) - failed - skipped} file(s) analysed, {failed} failed{before}; summary: {summary}")
    return 1 if failed else 0


def _collect(plan: Plan, results: Iterable[FileResult], records: RunRecords, progress: Progress) -> None:
    """Write each result's outputs, record it, print its line."""
    total = len(plan.inputs)
    for result in results:
        path, stem = plan.inputs[result.index].path, plan.stems[result.index]
        position = f"[{result.index + 1}/{total}]"
        if result.outputs is None:
            _record(records, result.index, {"file": str(path), "status": "failed", "reason": result.reason})
            progress.finish(f"{position} FAILED {result.reason}")
            continue
        try:
            write_outputs(plan.out, stem, result.outputs)
        except OSError as exc:
            raise _cannot_write(records, f"the results of {path}", exc) from None
        summary = result.outputs.summary
        _record(records, result.index, summary)
        speed = summary["duration_s"] / result.outputs.wall_s if result.outputs.wall_s > 0 else 0.0
        kinds = ".csv/.json/.png" if plan.options.plot else ".csv/.json"
        warnings = "".join(f"; warning: {warning}" for warning in summary["warnings"])
        progress.finish(
            f"{position} {path}: {summary['updates']} updates over {summary['duration_s']:.1f} s "
            f"({speed:.0f}x real time) -> {plan.out / stem}{kinds}{warnings}",
            summary["duration_s"],
        )


def _record(records: RunRecords, index: int, entry: dict[str, Any]) -> None:
    try:
        records.set(index, entry)
    except OSError as exc:
        raise _cannot_write(records, "the run's summary", exc) from None


def _write(records: RunRecords, complete: bool) -> None:
    try:
        records.write(complete)
    except OSError as exc:
        raise _cannot_write(records, "the run's summary", exc) from None


def _write_if_possible(records: RunRecords) -> None:
    """Bring the records up to date before the run ends on an error (a second failure changes nothing)."""
    try:
        records.write(complete=False)
    except OSError:
        pass  # the same trouble: the records stay as last written


def _cannot_write(records: RunRecords, what: str, exc: OSError) -> ConfigError:
    """The error that ends a run whose outputs cannot be written, once the records say what was done."""
    _write_if_possible(records)
    return ConfigError(
        f"--out {records.out}: cannot write {what} ({exc.strerror or exc}); {len(records.entries)} file(s) done "
        f"before, listed in {records.out / 'summary.json'}"
    )
