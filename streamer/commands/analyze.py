"""``damer analyze FILE... --out DIR``: the streaming engine run over files as fast as possible.

For each file ``DIR/<stem>.csv`` (one row per update: ``time,valence,arousal,p_high_valence,p_high_arousal``,
time in seconds of audio), ``DIR/<stem>.json`` (a summary) and ``DIR/<stem>.png`` (V and A over time and the
path in the valence-arousal plane), plus ``DIR/summary.json`` for the whole run. Every file is written under a
temporary name and renamed when complete; ``summary.json`` is rewritten after every file, so after a crash
or a kill it still lists every file finished (``"complete": false`` until the run ends).

Every file gets one line on standard error: its result (and its warnings, see :mod:`streamer.analysis`),
or ``FAILED`` and the reason (missing, a folder, unreadable, empty, corrupt, unsupported, too short, ...);
failed files are skipped and the others processed. Exit status: 0, or 1 if any file failed, or 130 when
stopped by Ctrl-C or SIGTERM (the file in progress is dropped, the finished ones are kept).
Two inputs with the same stem get ``<stem>-2``, ``<stem>-3``, ... in the order given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from damer_core.errors import AudioError, ConfigError
from damer_core.shipped import resolve_model
from streamer.commands.stream import add_model_arguments, settings_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze",
        help="analyse sound files offline: CSV, JSON summary and plot per file",
        description="Run the streaming engine over sound files as fast as possible and write the results.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="sound files (WAV, FLAC, OGG, MP3, ...)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Analyse every file; return 1 if any failed, else 0."""
    settings = settings_from_args(args)
    model_file = resolve_model(settings.model)
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
    from damer_core.atomic import atomic_path
    from streamer.analysis import analyze_file, unique_stem
    from streamer.builder import describe_bundle, load_model, set_threads
    from streamer.progress import Progress
    from streamer.signals import stop_on_signals

    set_threads(settings.engine.torch_threads)
    bundle = load_model(str(model_file), settings.device)
    print(describe_bundle(bundle), flush=True)
    progress = Progress(len(args.files), sys.stderr)
    results: list[dict[str, Any]] = []
    used_stems: set[str] = set()
    stop = threading.Event()

    def write_summary(complete: bool) -> None:
        run_summary = {"model": str(bundle.path), "model_card": bundle.card, "complete": complete, "files": results}
        with atomic_path(out / "summary.json") as temporary:
            temporary.write_text(json.dumps(run_summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    with stop_on_signals(stop):
        for name in args.files:
            if stop.is_set():
                break
            progress.start(name)
            stem = unique_stem(Path(name).stem, used_stems)
            try:
                result = analyze_file(Path(name), out, stem, bundle, settings, stop)
            except OSError as exc:  # the inputs' errors are AudioErrors: this is writing the results
                raise ConfigError(
                    f"--out {out}: cannot write the results of {name} ({exc.strerror or exc}); "
                    f"{len(results)} file(s) done before, listed in {out / 'summary.json'}"
                ) from None
            except AudioError as exc:
                results.append({"file": name, "status": "failed", "reason": str(exc)})
                progress.finish(f"FAILED {exc}")
            else:
                results.append(result)
                warnings = "".join(f"; warning: {warning}" for warning in result["warnings"])
                progress.finish(
                    f"{name}: {result['updates']} updates over {result['duration_s']:.1f} s "
                    f"({result['x_realtime']:.0f}x real time) -> {out / stem}.csv/.json/.png{warnings}"
                )
            write_summary(complete=False)
        write_summary(complete=not stop.is_set())
    failed = [r for r in results if r["status"] != "ok"]
    if stop.is_set():
        print(
            f"interrupted after {len(results)} of {len(args.files)} file(s); summary: {out / 'summary.json'}",
            file=sys.stderr,
        )
        return 130
    print(f"{len(results) - len(failed)} file(s) analysed, {len(failed)} failed; summary: {out / 'summary.json'}")
    return 1 if failed else 0
