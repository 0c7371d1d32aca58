"""The unit of work of every way to run ``damer analyze``: a group of files in, one result per file out.

An :class:`Analyzer` holds a model loaded once (per process: the command's own, a local worker, a Ray
worker) and analyses groups of :class:`Job` s: one file at a time on the CPU, several together on a GPU
(their chunks share the model's forward passes, see :func:`streamer.batch.compute.compute_tables`). What it
returns is picklable and written by the command's process alone: a worker never touches ``--out``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from damer_core.bundle import Bundle, load_bundle
from damer_core.errors import AudioError
from streamer.analysis import FileOutputs, OutputOptions, render
from streamer.batch.compute import FileTable, FrontEnds, Interrupted, StopFlag, compute_tables

GPU_GROUP = 8
"""Files analysed together, their chunks stacked into one batch, when the model runs on a GPU."""


@dataclass(frozen=True)
class Job:
    """One input of the run.

    Attributes:
        index: its position among the inputs (0-based).
        path: the file.
        problem: why it cannot be analysed, known beforehand (the whole message), else None.
    """

    index: int
    path: Path
    problem: str | None = None


@dataclass(frozen=True)
class FileResult:
    """What became of one job.

    Attributes:
        index: the job's position among the inputs.
        outputs: the rendered outputs, or None when the file failed.
        reason: why it failed (the whole message, naming the file), else None.
        interrupted: it failed because the run was stopped.
    """

    index: int
    outputs: FileOutputs | None
    reason: str | None = None
    interrupted: bool = False


def group_jobs(jobs: Sequence[Job], device: str, workers: int) -> list[list[Job]]:
    """``jobs`` in groups, in order: one by one on the CPU; on a GPU up to :data:`GPU_GROUP` together, fewer
    when there are too few files to keep ``workers`` workers busy."""
    size = 1
    if device.startswith("cuda"):
        size = max(1, min(GPU_GROUP, -(-len(jobs) // max(workers, 1))))
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def load_analyzer(model_file: Path, device: str, options: OutputOptions, threads: int = 1) -> Analyzer:
    """An :class:`Analyzer` of the bundle ``model_file`` on ``device`` with ``threads`` torch threads: what
    each worker process does once, at its start."""
    torch.set_num_threads(threads)
    return Analyzer(load_bundle(model_file, device), options)


class Analyzer:
    """A loaded model (and its reusable front-ends) that analyses groups of files.

    Args:
        bundle: the model, on the device it runs on.
        options: what every file's outputs record and include.
    """

    def __init__(self, bundle: Bundle, options: OutputOptions) -> None:
        self.bundle = bundle
        self.options = options
        self.frontends = FrontEnds(bundle.spec)

    def run(self, jobs: Sequence[Job], stop: StopFlag | None = None) -> list[FileResult]:
        """Analyse ``jobs`` together; one result per job, in order.

        A file that cannot be analysed fails alone with its reason; anything unexpected (a bug, memory
        exhausted) fails the group's files with the error's name, and the run goes on.
        """
        stop = stop if stop is not None else threading.Event()
        todo = [job for job in jobs if job.problem is None]
        results = {job.index: FileResult(job.index, None, job.problem) for job in jobs if job.problem is not None}
        try:
            computed = compute_tables(
                [job.path for job in todo], self.bundle, self.frontends, self.options.smoothing_s, stop
            )
            for job, table in zip(todo, computed, strict=True):
                results[job.index] = self._result(job, table)
        except Exception as exc:  # one group's failure must not end the run
            for job in todo:
                reason = f"{job.path}: analysis failed ({type(exc).__name__}: {exc})"
                results.setdefault(job.index, FileResult(job.index, None, reason))
        return [results[job.index] for job in jobs]

    def _result(self, job: Job, computed: FileTable | AudioError) -> FileResult:
        if isinstance(computed, AudioError):
            return FileResult(job.index, None, _named(job.path, computed), isinstance(computed, Interrupted))
        try:
            return FileResult(job.index, render(job.path, computed, self.bundle, self.options))
        except AudioError as exc:
            return FileResult(job.index, None, _named(job.path, exc))


def _named(path: Path, exc: AudioError) -> str:
    """The error's message, starting with the file's name (decoding errors name it already)."""
    text = str(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"
