"""``damer bench NAME [ARGS...]``: run one of the benchmark scripts of :mod:`bench`.

Each script is a module of this package with a ``main(argv) -> int``; ``damer bench NAME --help`` shows its
own options. ``python -m bench.NAME`` runs the same script.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import bench

NOT_BENCHMARKS = ("cli", "live_path", "ray_head", "report")
"""Modules of :mod:`bench` that are not benchmark scripts: this command, and the helpers the scripts share."""


def bench_names() -> list[str]:
    """Names of the benchmark scripts in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in NOT_BENCHMARKS and not m.ispkg)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` sub-command."""
    names = bench_names()
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark script (prints a table; --json PATH writes the figures)",
        description="Run one benchmark script; each prints a table and writes its figures with --json PATH.",
    )
    parser.add_argument("name", choices=names, metavar="NAME", help="one of: " + ", ".join(names))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options of that script (see NAME --help)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import ``bench.<name>`` and run its ``main`` with the remaining arguments."""
    module = importlib.import_module(f"bench.{args.name}")
    return int(module.main(args.args) or 0)
