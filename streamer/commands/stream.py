"""``damer stream``: music in (sound card, file or stdin), valence and arousal out over OSC.

With no arguments it listens to the default input device; when there is none (no sound card, or no
PortAudio library) it plays the bundled demo clip in real time instead and says so.

Exit status: 0 when the input ended or a stop was asked for (Ctrl-C, SIGTERM, ``--duration``); 1 when the
sound card went away mid-stream (unplugged, stalled, its sound server ended: the summary says which, so a
supervisor can restart the show), or the ``--log`` file could not be written (disk full: the stream went
on without it); 2 for a bad setting, model, file or device at start-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from damer_core.config import from_mapping, to_mapping
from damer_core.errors import ConfigError
from damer_core.shipped import resolve_model
from streamer.settings import StreamSettings, load_settings
from streamer.sources.kinds import check_input_file


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``stream`` and ``analyze``: config, model, device, smoothing."""
    parser.add_argument("--config", metavar="YAML", help="settings file (schema: configs/default.yaml)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle file, or 'default' (the shipped model)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="compute device for the model")
    parser.add_argument("--smoothing", type=float, metavar="SECONDS", help="one-pole smoothing time constant; 0 = off")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``stream`` sub-command."""
    parser = subparsers.add_parser(
        "stream",
        help="stream valence/arousal over OSC from a sound card, a file or stdin",
        description=(
            "Estimate the valence and arousal of music as it plays and send them over OSC. "
            "Without --input: the default input device, or the bundled demo clip when there is none."
        ),
    )
    parser.add_argument(
        "--input",
        metavar="DEVICE|FILE|-",
        help="input device (index or part of its name, see 'damer devices'), a sound file, or '-' for raw "
        "float32 samples on stdin",
    )
    parser.add_argument(
        "--pace", choices=("realtime", "fast"), help="files and stdin: real-time pace or as fast as possible"
    )
    parser.add_argument(
        "--osc", action="append", metavar="HOST:PORT", help="OSC target (repeat for several; default 127.0.0.1:9000)"
    )
    parser.add_argument("--no-osc", action="store_true", help="do not send OSC")
    parser.add_argument("--prefix", metavar="/ADDRESS", help="OSC address prefix (default /damer)")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds of audio")
    parser.add_argument("--log", metavar="PATH", help="log every update to a .csv or .jsonl file")
    parser.add_argument("--latency", type=float, metavar="SECONDS", help="suggested sound-card input latency")
    parser.add_argument(
        "--stdin-rate", type=int, metavar="HZ", help="sample rate of raw float32 on stdin (default: the model's)"
    )
    parser.add_argument(
        "--stdin-channels", type=int, metavar="N", help="interleaved channels of raw float32 on stdin (default 1)"
    )
    parser.add_argument("--no-meter", action="store_true", help="no live meter line on the terminal")
    monitor = parser.add_mutually_exclusive_group()
    monitor.add_argument(
        "--monitor",
        nargs="?",
        const="",
        metavar="[HOST:]PORT",
        help="serve the live monitor page, by default at 127.0.0.1:8765 (on by default in a terminal; port 0: any "
        "free port)",
    )
    monitor.add_argument("--no-monitor", action="store_true", help="no live monitor page")
    parser.add_argument("--ws", metavar="[HOST:]PORT", help="send every update as one JSON message over WebSocket")
    parser.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages of this origin (e.g. http://localhost:8000) connect to --monitor and --ws (repeat for "
        "several)",
    )
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> StreamSettings:
    """The config file (or the defaults) with the command-line flags applied on top.

    Raises:
        ConfigError: a bad file or a flag value out of range (the message names the key).
    """
    settings = load_settings(args.config)
    data: dict[str, Any] = to_mapping(settings)
    flags = {
        ("model",): getattr(args, "model", None),
        ("device",): getattr(args, "device", None),
        ("engine", "smoothing_s"): getattr(args, "smoothing", None),
        ("input", "source"): getattr(args, "input", None),
        ("input", "pace"): getattr(args, "pace", None),
        ("input", "latency"): getattr(args, "latency", None),
        ("input", "stdin_rate"): getattr(args, "stdin_rate", None),
        ("input", "stdin_channels"): getattr(args, "stdin_channels", None),
        ("osc", "targets"): getattr(args, "osc", None),
        ("osc", "prefix"): getattr(args, "prefix", None),
        ("log", "path"): getattr(args, "log", None),
        ("monitor", "address"): getattr(args, "monitor", None) or None,
        ("ws", "address"): getattr(args, "ws", None),
    }
    for keys, value in flags.items():
        if value is not None:
            section = data
            for key in keys[:-1]:
                section = section[key]
            section[keys[-1]] = value
    if getattr(args, "no_osc", False):
        data["osc"]["enabled"] = False
    if getattr(args, "no_meter", False):
        data["meter"] = False
    if getattr(args, "monitor", None) is not None:
        data["monitor"]["enabled"] = True
    if getattr(args, "no_monitor", False):
        data["monitor"]["enabled"] = False
    if getattr(args, "ws", None) is not None:
        data["ws"]["enabled"] = True
    for section in ("monitor", "ws"):
        data[section]["allow_origin"] += getattr(args, "allow_origin", None) or []
    return from_mapping(
        StreamSettings, data, where="command line" if args.config is None else f"{args.config} + command line"
    )


def run(args: argparse.Namespace) -> int:
    """Stream until the input ends, ``--duration`` is reached, Ctrl-C or SIGTERM; print a summary."""
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration: must be > 0 seconds, got {args.duration}")
    settings = settings_from_args(args)
    model_file = resolve_model(settings.model)
    check_input_file(settings.input.source)
    # Imported only now, once the settings are known to be good: torch, numba and PortAudio take seconds to
    # load, and every ``damer`` command loads this module to build its parser.
    from streamer.builder import (
        build_emitters,
        build_engine,
        describe_bundle,
        load_model,
        open_default_or_demo,
        open_source,
        set_threads,
    )
    from streamer.log_out import LineLog
    from streamer.meter import TerminalMeter
    from streamer.monitor.emitter import MonitorEmitter, WsEmitter
    from streamer.osc import OscEmitter
    from streamer.signals import stop_on_signals
    from streamer.sources.live import LiveSource

    set_threads(settings.engine.torch_threads)
    bundle = load_model(str(model_file), settings.device)
    model_line = describe_bundle(bundle)
    interactive = TerminalMeter.wanted(sys.stdout)
    meter = sys.stdout if settings.meter and interactive else None
    emitters = build_emitters(settings, meter, settings.monitor.wanted(interactive), model_line.removeprefix("model: "))
    monitor = next((e for e in emitters if isinstance(e, MonitorEmitter)), None)
    if monitor is not None:
        print(f"monitor: {monitor.url} (open it in a browser)", flush=True)
    print(model_line, flush=True)
    try:
        if settings.input.source is None:
            source, fallback = open_default_or_demo(settings.input, bundle.spec, settings.engine.ring_seconds)
            if fallback is not None:
                print(f"no usable input device: {fallback.reason}", flush=True)
                print("playing the bundled demo clip in real time instead", flush=True)
        else:
            source = open_source(settings.input, bundle.spec, settings.engine.ring_seconds)
    except BaseException:
        for emitter in emitters:
            emitter.close()
        raise
    print(f"input: {source.description}", flush=True)
    osc = [e for e in emitters if isinstance(e, OscEmitter)]
    if osc:
        print(f"OSC: {', '.join(t.text for t in osc[0].targets)} under {osc[0].prefix}", flush=True)
    for ws in (e for e in emitters if isinstance(e, WsEmitter)):
        print(f"WebSocket: {ws.url} (one JSON message per update)", flush=True)
    if settings.log.path:
        print(f"log: {Path(settings.log.path)}", flush=True)
    engine = build_engine(
        bundle, source, emitters, settings.engine.smoothing_s, settings.engine.max_lag_s, args.duration
    )
    if monitor is not None:
        monitor.watch(engine.summary)
    with stop_on_signals(threading.Event()) as stop:
        summary = engine.run(stop)
    if source.lost is not None:
        summary.stopped_by = f"input lost: {source.lost}"
    for line in summary.lines():
        print(line)
    for emitter in osc:
        for line in emitter.report():
            print(line)
    failed_logs = [e for e in emitters if isinstance(e, LineLog) and e.error is not None]
    for log in failed_logs:
        print(
            f"damer stream: log {settings.log.path}: writing failed ({log.error.strerror or log.error}), the log "
            "is incomplete; the stream went on without it",
            file=sys.stderr,
        )
    if source.lost is not None:
        print(f"damer stream: input lost: {source.lost}", file=sys.stderr)
        if isinstance(source, LiveSource) and source.stuck:
            # The outputs are closed; PortAudio's exit handler would wait forever on the hung device.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    return 1 if failed_logs else 0
