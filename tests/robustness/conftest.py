"""Helpers of the robustness tests: ``damer`` in a subprocess (as a user runs it, with its terminal output),
a process that file permissions apply to even when the tests run as root, and checks that the outputs
``damer analyze`` leaves are whole."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def damer_command(*args: str) -> list[str]:
    """The command line of ``damer ARGS`` with this interpreter."""
    return [sys.executable, "-m", "damer_core.cli", *args]


def damer(*args: str, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``damer ARGS`` to completion; text output captured."""
    return subprocess.run(damer_command(*args), capture_output=True, text=True, timeout=timeout, **kwargs)


def _drop_permission_override() -> None:
    """In the child before exec: remove the two capabilities that let root ignore file modes from the
    bounding set, so the program it runs (still uid 0) is refused a file with mode 000 like any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def permission_respecting(probe_dir: Path) -> tuple[Callable[[], None] | None, str | None]:
    """How to start a process that file permissions apply to.

    Returns ``(preexec_fn, None)`` (``preexec_fn`` None when not root: permissions already apply), or
    ``(None, reason)`` when this machine cannot provide one (root without the right to drop capabilities).
    """
    if os.geteuid() != 0:
        return None, None
    locked = probe_dir / "locked-probe"
    locked.write_bytes(b"x")
    locked.chmod(0)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"open({str(locked)!r}, 'rb')"],
            preexec_fn=_drop_permission_override,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"running as root and cannot drop CAP_DAC_OVERRIDE ({exc})"
    finally:
        locked.unlink()
    if "PermissionError" not in probe.stderr:
        return None, "running as root and permissions still do not apply after dropping CAP_DAC_OVERRIDE"
    return _drop_permission_override, None


def read_csv(path: Path) -> np.ndarray:
    """An analysis CSV as a structured array (header ``time,valence,arousal,p_high_valence,p_high_arousal``)."""
    return np.atleast_1d(np.genfromtxt(path, delimiter=",", names=True))


def assert_outputs_whole(out: Path, stem: str) -> dict:
    """``stem``'s CSV, JSON and PNG are all there and complete: the JSON parses, the CSV has exactly its
    ``updates`` rows (each complete, all finite), the PNG ends with its IEND chunk. Returns the JSON."""
    summary = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    text = (out / f"{stem}.csv").read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0] == "time,valence,arousal,p_high_valence,p_high_arousal"
    assert len(lines) - 1 == summary["updates"] > 0
    table = read_csv(out / f"{stem}.csv")
    for column in table.dtype.names:
        assert np.isfinite(table[column]).all(), column
    png = (out / f"{stem}.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    return summary


def final_names(out: Path) -> set[str]:
    """Files under their final names (temporary files are hidden: ``.<name>.<random>.tmp``)."""
    return {p.name for p in out.iterdir() if not p.name.startswith(".")}


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (worker processes), from ``/proc``."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += parents.get(current, [])
    return tree


def has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` itself has ``path`` open."""
    target = str(path.resolve())
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == target:
                return True
        except OSError:
            continue
    return False


def is_open_in(pid: int, path: Path) -> bool:
    """Whether ``path`` is open in process ``pid`` or one of its descendants (its worker processes): a file
    being analysed."""
    return any(has_open(process, path) for process in process_tree(pid))
