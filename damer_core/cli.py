"""The ``damer`` command: a dispatcher for the sub-commands that the packages register.

Each package declares its sub-commands as entry points in the group ``damer.commands`` (see
``pyproject.toml``); an entry point names a function ``register(subparsers)`` that adds one sub-parser
and sets its ``run`` default to a function ``run(args) -> int``. This keeps ``damer_core`` free of any
knowledge of the engine or the training package.

User errors (:class:`~damer_core.errors.DamerError`) are printed as one line, exit status 2; Ctrl-C exits
with status 130 without a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version

from damer_core.errors import DamerError

ENTRY_POINT_GROUP = "damer.commands"


def build_parser() -> argparse.ArgumentParser:
    """The full ``damer`` argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="damer",
        description="Streaming music emotion engine: valence and arousal from audio, sent over OSC.",
    )
    parser.add_argument("--version", action="version", version=f"damer {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        entry_point.load()(subparsers)
    return parser


def package_version() -> str:
    """The installed distribution's version (``"unknown"`` when run from a source tree never installed)."""
    try:
        return version("damer")
    except PackageNotFoundError:
        return "unknown"


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; an unknown flag is reported with the usage of the sub-command it was given to."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subparsers.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``damer`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    try:
        return int(args.run(args) or 0)
    except DamerError as exc:
        print(f"damer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"damer {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``damer`` console script: :func:`main`, then exit with its status.

    Once the command has finished, further Ctrl-C presses are ignored: a user pressing it again while the
    interpreter shuts down (torch's exit handlers run then) would otherwise get a traceback instead of the
    clean summary already printed.
    """
    try:
        status = main()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:  # pressed after the command returned, before Ctrl-C was ignored
        print("damer: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    entry()
