"""``damer analyze PATHS... --out DIR``: sound files, folders or patterns -> valence and arousal over time.

Each file is computed by the offline batch pass (:mod:`streamer.batch.compute`: the numbers of the live
engine, up to float rounding, at the same times), in chunks of bounded memory, on every core:
``--jobs N`` worker processes (default: the cores this process may use; ``--jobs 1`` runs in this process),
or Ray tasks on a cluster (``--ray ADDRESS``, optional extra ``damer[cluster]``), and with ``--device cuda``
several files at a time through the model on the GPU. Folders are walked recursively and patterns expanded
(:mod:`streamer.batch.inputs`).

For each file ``DIR/<stem>.csv`` (one row per update: ``time,valence,arousal,p_high_valence,p_high_arousal``,
time in seconds of audio), ``DIR/<stem>.json`` (a summary) and ``DIR/<stem>.png`` (V and A over time and the
path in the valence-arousal plane; ``--no-plot`` leaves it out); for the run ``DIR/summary.json`` and the
catalogue ``DIR/index.csv`` (:mod:`streamer.batch.catalogue`), both in input order. Every file is written
under a temporary name and renamed when complete; ``summary.json`` and ``index.csv`` are rewritten as the
run goes, so after a crash or a kill they list the files finished (``"complete": false`` until the run
ends). ``--skip-existing`` resumes: files whose outputs are complete are not computed again, and the records
list them as before.

Every file gets one line on standard error, ``[k/N]`` (its position among the inputs) and its result (and
its warnings, see :mod:`streamer.analysis`), or ``FAILED`` and the reason (missing, a folder, unreadable,
empty, corrupt, unsupported, too short, ...); failed files are skipped and the others processed. Exit
status: 0, or 1 if any file failed, or 130 when stopped by Ctrl-C or SIGTERM (no new file is started, the
files in progress stop and are dropped, the finished ones are kept; more Ctrl-C change nothing), 2 for a
bad setting. Two inputs with the same stem get ``<stem>-2``, ``<stem>-3``, ... in input order.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import threading
from pathlib import Path

from damer_core.errors import ConfigError
from damer_core.shipped import resolve_model
from streamer.commands.stream import add_model_arguments, settings_from_args


def default_jobs() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze",
        help="analyse sound files offline: CSV, JSON summary and plot per file, a catalogue of the run",
        description="Compute valence and arousal over time for sound files (folders walked, patterns expanded) "
        "on every core, and write the results.",
    )
    parser.add_argument("files", nargs="+", metavar="PATH", help="sound files, folders of them, or patterns")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    parser.add_argument(
        "--jobs", type=int, metavar="N", help=f"worker processes (default: every core, here {default_jobs()})"
    )
    parser.add_argument(
        "--skip-existing", action="store_true", help="resume: leave out files whose outputs in DIR are complete"
    )
    parser.add_argument(
        "--plot", action=argparse.BooleanOptionalAction, default=True, help="draw a PNG per file (default: on)"
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the files as tasks on the Ray cluster at ADDRESS (e.g. 10.0.0.1:6379, or 'auto' inside one); "
        "needs the optional extra damer[cluster]",
    )
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Analyse every input; return 0, 1 if any failed, 130 when stopped."""
    settings = settings_from_args(args)
    model_file = resolve_model(settings.model)
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        raise ConfigError(f"--jobs: must be at least 1, got {jobs}")
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        raise ConfigError("--ray: Ray is not installed; it comes with the optional extra: pip install 'damer[cluster]'")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from None
    try:
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    # Imported only now, once the settings are known to be good (see streamer.commands.stream.run).
    from streamer.analysis import OutputOptions, unique_stem
    from streamer.batch.inputs import expand_inputs
    from streamer.batch.jobs import InProcess, LocalPool
    from streamer.batch.run import Backend, Plan, execute
    from streamer.batch.task import Analyzer, group_jobs
    from streamer.builder import describe_bundle, load_model, set_threads
    from streamer.signals import stop_on_signals

    inputs = expand_inputs(args.files)
    used: set[str] = set()
    stems = [unique_stem(item.path.stem, used) for item in inputs]
    options = OutputOptions(str(model_file), settings.engine.smoothing_s, args.plot)
    set_threads(settings.engine.torch_threads)
    plan = Plan(inputs, stems, out, options, args.skip_existing)
    backend: Backend
    if args.ray is not None:
        from streamer.batch.ray_jobs import RayCluster

        bundle = load_model(str(model_file), "cpu")  # checked here, run there
        backend = cluster = RayCluster(args.ray, model_file, settings.device, options)
        device, workers = cluster.device, cluster.cpus
        print(f"model: {model_file} on the Ray cluster at {args.ray}: {cluster.describe()}", flush=True)
    else:
        bundle = load_model(str(model_file), settings.device)
        device = str(next(bundle.model.parameters()).device)
        print(describe_bundle(bundle), flush=True)
        workers = min(jobs, len(inputs))
        if workers == 1:
            backend = InProcess(Analyzer(bundle, options))
        else:
            backend = LocalPool(workers, model_file, device, options)
    stop = threading.Event()
    with stop_on_signals(stop):
        return execute(plan, backend, lambda pending: group_jobs(pending, device, workers), bundle.card, stop)
