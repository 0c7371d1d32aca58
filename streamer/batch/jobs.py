"""Running the groups of jobs: in this process (``--jobs 1``) or in local worker processes (``--jobs N``).

Every backend's :meth:`results` yields :class:`~streamer.batch.task.FileResult` s as groups finish (any
order) and, once ``stop`` is set, asks no more work of anyone, lets what runs end (a running file stops
within one block of audio and fails as interrupted) and returns.

**Worker processes** (:class:`LocalPool`): a ``concurrent.futures.ProcessPoolExecutor`` whose processes a
``forkserver`` forks: a clean process (not a copy of the command's) that imports the analysis code once, so
that N workers cost one import of torch and friends instead of N at once (on two busy cores: 4 s less to the
first result than ``spawn``). Each worker has one torch thread and loads the model once
(:func:`_start_worker`). Ctrl-C and SIGTERM belong to the command: the workers are started with both blocked
and then ignore SIGINT, so a Ctrl-C on the terminal (which reaches the whole process group) never interrupts
them half-way through an import or a file; they hear the command's stop through a shared event, and end
within half a second of the command's death (a kill). One group per worker is handed out at a time (a stop
then interrupts only files that run). A worker that dies (killed, out of memory, a crash in a decoder) takes
the pool down with it: the pool is rebuilt and the groups it was running are run again, each alone, so that
a group that kills its worker again is known to be the cause and fails alone (:data:`DIED`), while the
others get their results.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

from damer_core.errors import DeviceError
from streamer.analysis import OutputOptions
from streamer.batch.compute import StopFlag
from streamer.batch.task import Analyzer, FileResult, Job, load_analyzer

DIED = "the worker process analysing it died (killed, out of memory, or a crash in a decoder)"
"""Reason of a file whose group killed its worker twice, the second time alone."""

MAX_RESTARTS = 3
"""Rebuilds of the pool in a row, without a result between them, before the run gives up."""

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class InProcess:
    """Runs the groups one after the other in this process (no start-up cost: ``--jobs 1``)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def results(self, groups: Sequence[Sequence[Job]], stop: threading.Event) -> Iterator[FileResult]:
        """See the module docstring."""
        for group in groups:
            if stop.is_set():
                return
            yield from self.analyzer.run(group, stop)


class LocalPool:
    """Runs the groups in ``jobs`` worker processes of this machine.

    Args:
        jobs: worker processes.
        model_file: the bundle each worker loads; device: where its model runs.
        options: the outputs' options.
    """

    def __init__(self, jobs: int, model_file: Path, device: str, options: OutputOptions) -> None:
        self.jobs = jobs
        self.model_file = model_file
        self.device = device
        self.options = options

    def results(self, groups: Sequence[Sequence[Job]], stop: threading.Event) -> Iterator[FileResult]:
        """See the module docstring."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        worker_stop = context.Event()
        queue: collections.deque[tuple[Sequence[Job], bool]] = collections.deque((group, False) for group in groups)
        running: dict[Future[list[FileResult]], tuple[Sequence[Job], bool]] = {}
        executor = self._executor(context, worker_stop)
        restarts = 0  # rebuilds of the pool since the last result
        try:
            while queue or running:
                if stop.is_set() and not worker_stop.is_set():
                    worker_stop.set()
                    queue.clear()
                    for future in [f for f in running if f.cancel()]:
                        del running[future]
                broken = not stop.is_set() and not self._hand_out(executor, queue, running)
                done: set[Future[list[FileResult]]] = set()
                if running:
                    done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
                if broken or any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                    done = set(wait(running)[0])  # every future of a broken pool is settled at once
                    executor.shutdown(wait=True)
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        raise DeviceError(f"--jobs {self.jobs}: the worker processes do not start")
                    executor = self._executor(context, worker_stop)
                for future in done:
                    group, alone = running.pop(future)
                    if future.exception() is None:
                        restarts = 0
                    yield from self._settled(future, group, alone, queue, stop)
        finally:
            worker_stop.set()
            executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _settled(
        future: Future[list[FileResult]],
        group: Sequence[Job],
        alone: bool,
        queue: collections.deque[tuple[Sequence[Job], bool]],
        stop: threading.Event,
    ) -> Iterator[FileResult]:
        """The results of a finished group; a group whose worker died goes back to the queue, to run alone."""
        try:
            yield from future.result()
        except BrokenProcessPool:
            if alone or stop.is_set():
                yield from _failed(group, DIED, interrupted=stop.is_set())
            else:
                queue.appendleft((group, True))
        except Exception as exc:  # the group's results could not come back: it fails, the run goes on
            yield from _failed(group, f"analysis failed ({type(exc).__name__}: {exc})")

    def _executor(self, context, worker_stop) -> ProcessPoolExecutor:  # noqa: ANN001 - multiprocessing types
        with _signals_blocked():  # the workers inherit the mask: no Ctrl-C reaches them before they ignore it
            return ProcessPoolExecutor(
                self.jobs,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.model_file, self.device, self.options, worker_stop, os.getpid()),
            )

    def _hand_out(
        self,
        executor: ProcessPoolExecutor,
        queue: collections.deque[tuple[Sequence[Job], bool]],
        running: dict[Future[list[FileResult]], tuple[Sequence[Job], bool]],
    ) -> bool:
        """Submit queued groups: one per worker; a group to run alone only when nothing else runs, and nothing
        beside it. False when the pool turned out broken (a worker, or the fork server, died since the last
        look)."""
        while queue and len(running) < self.jobs:
            group, alone = queue[0]
            if any(a for _, a in running.values()) or (alone and running):
                break
            try:
                with _signals_blocked():  # the pool starts its processes on submit
                    running[executor.submit(_run_group, group)] = (group, alone)
            except (BrokenProcessPool, OSError):
                return False
            queue.popleft()
        return True


def _failed(group: Sequence[Job], why: str, interrupted: bool = False) -> Iterator[FileResult]:
    for job in group:
        yield FileResult(job.index, None, f"{job.path}: {'interrupted' if interrupted else why}", interrupted)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held back in this thread (and in processes started meanwhile) while the block runs."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ------------------------------------------------------------------------------------ in the worker


COMMAND_CHECK_S = 0.5
"""How often a worker looks whether the command is still there."""

_analyzer: Analyzer | None = None
_stop: StopFlag | None = None


def _start_worker(model_file: Path, device: str, options: OutputOptions, stop: StopFlag, command: int) -> None:
    """A worker process's start: ignore Ctrl-C (the command owns it), end with the command (process
    ``command``), one torch thread, load the model."""
    global _analyzer, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    threading.Thread(target=_exit_without, args=(command,), name="command-watch", daemon=True).start()
    _analyzer = load_analyzer(model_file, device, options)
    _stop = stop


def _exit_without(command: int) -> None:
    """End this worker once the command is gone (killed): nobody is left to take its results, and it holds
    the command's terminal and pipes. (Its parent is the fork server, which lives as long as its children.)"""
    while _alive(command):
        time.sleep(COMMAND_CHECK_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs; a killed process its parent has not reaped yet (a zombie) does not."""
    if Path("/proc/self/stat").exists():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _run_group(group: Sequence[Job]) -> list[FileResult]:
    assert _analyzer is not None and _stop is not None, "worker not started"
    return _analyzer.run(group, _stop)
