"""``damer analyze --ray ADDRESS``: the groups of files as Ray tasks on a cluster (optional extra
``damer[cluster]``; this module is imported only when ``--ray`` is given).

Each group is one task of one CPU (``num_cpus=1``; with ``--device cuda``, also :data:`GPU_SHARE` of a GPU,
so that several tasks share each GPU while their front-ends keep its node's cores busy). The model goes to
the cluster once, as bytes in Ray's object store; each worker process loads it once, with one torch thread
(:func:`_run_group`), and runs the same :class:`~streamer.batch.task.Analyzer` as a local worker: the
results are identical to a local run's. Tasks return the rendered outputs; the command's process writes
them, so ``--out`` need only exist where the command runs. The inputs are read by the workers: their paths
must name the same files on every node (a shared folder), and damer must be installed there (the same
version, in the Python that Ray runs).

A worker that dies (a node lost, out of memory) has its task retried by Ray up to :data:`RETRIES` times;
after that its files fail with :data:`~streamer.batch.jobs.DIED`. One task per CPU of the cluster is
submitted at a time (a stop then interrupts only files that run). A stop (Ctrl-C, SIGTERM) cancels what has
not started and interrupts what runs (Ray raises ``KeyboardInterrupt`` in the task); those files fail as
interrupted. ``--skip-existing`` works as in a local run: it is the command's process that decides what is
complete.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ray

from damer_core.errors import ConfigError
from streamer.analysis import OutputOptions
from streamer.batch.jobs import DIED
from streamer.batch.task import Analyzer, FileResult, Job, load_analyzer

RETRIES = 2
"""Times Ray runs a task again after its worker process died."""

GPU_SHARE = 0.25
"""Fraction of a GPU each task asks for with ``--device cuda`` (four tasks per GPU)."""


class RayCluster:
    """The groups of a run as tasks on the Ray cluster at ``address``.

    Args:
        address: the cluster's address (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``).
        model_file: the bundle, read here and sent to the cluster.
        device: ``"auto"`` (a GPU per task share when the cluster has GPUs), ``"cpu"`` or ``"cuda"``.
        options: the outputs' options.

    Raises:
        ConfigError: the cluster cannot be reached, or ``"cuda"`` is asked of a cluster without GPUs.
    """

    def __init__(self, address: str, model_file: Path, device: str, options: OutputOptions) -> None:
        self.address = address
        self.options = options
        self._model = model_file.read_bytes()
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"--ray {address}: cannot connect to the cluster ({exc})") from None
        resources = ray.cluster_resources()
        self.cpus = int(resources.get("CPU", 0))
        self.gpus = int(resources.get("GPU", 0))
        if device == "cuda" and self.gpus == 0:
            ray.shutdown()
            raise ConfigError(f"--device cuda: the Ray cluster at {address} has no GPU")
        self.device = "cuda" if device == "cuda" or (device == "auto" and self.gpus > 0) else "cpu"

    def describe(self) -> str:
        """The cluster's size and where the model runs."""
        return f"{self.cpus} CPU(s), {self.gpus} GPU(s); model on {self.device}"

    def results(self, groups: Sequence[Sequence[Job]], stop: threading.Event) -> Iterator[FileResult]:
        """Results as tasks finish (see :mod:`streamer.batch.jobs`)."""
        resources: dict[str, Any] = {"num_cpus": 1, "max_retries": RETRIES, "retry_exceptions": False}
        if self.device == "cuda":
            resources["num_gpus"] = GPU_SHARE
        task = ray.remote(_run_group).options(**resources)
        model = ray.put(self._model)
        queue = list(reversed(groups))
        running: dict[ray.ObjectRef, Sequence[Job]] = {}
        cancelled = False
        try:
            while queue or running:
                if stop.is_set() and not cancelled:
                    cancelled = True
                    queue.clear()
                    for ref in running:
                        ray.cancel(ref)
                while queue and not stop.is_set() and len(running) < max(self.cpus, 1):
                    group = queue.pop()
                    running[task.remote(model, self.device, self.options, group)] = group
                done, _ = ray.wait(list(running), num_returns=1, timeout=0.1)
                for ref in done:
                    yield from _settled(ref, running.pop(ref), stop)
        finally:
            for ref in running:
                ray.cancel(ref)
            ray.shutdown()


def _settled(ref: ray.ObjectRef, group: Sequence[Job], stop: threading.Event) -> Iterator[FileResult]:
    try:
        yield from ray.get(ref)
    except (ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError) as exc:
        if stop.is_set():
            yield from (FileResult(job.index, None, f"{job.path}: interrupted", True) for job in group)
        else:
            yield from (FileResult(job.index, None, f"{job.path}: analysis failed ({exc})") for job in group)
    except ray.exceptions.RayError:  # the worker died again and again, or its node was lost
        yield from (FileResult(job.index, None, f"{job.path}: {DIED}", stop.is_set()) for job in group)


# ------------------------------------------------------------------------------------ in the worker

_analyzers: dict[tuple[str, str, OutputOptions], Analyzer] = {}


def _run_group(model: bytes, device: str, options: OutputOptions, group: Sequence[Job]) -> list[FileResult]:
    """A task: the group's results, with the model loaded once per worker process."""
    key = (hashlib.sha256(model).hexdigest(), device, options)
    if key not in _analyzers:
        with tempfile.TemporaryDirectory(prefix="damer-ray-") as folder:
            path = Path(folder) / "model.safetensors"
            path.write_bytes(model)
            _analyzers[key] = load_analyzer(path, device, options)
    return _analyzers[key].run(group)
