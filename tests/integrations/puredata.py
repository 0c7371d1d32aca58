"""Pure Data for the integration tests: a parser of the ``.pd`` patch format, and a headless Pd process whose
printed lines are collected as they come."""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PD = shutil.which("pd")
"""The ``pd`` executable (Debian ``puredata-core``), or None."""

READY = "READY: bang"
"""What :func:`ready_probe` prints once every patch opened before it has been created."""


# ---------------------------------------------------------------------------------------------- patch format


@dataclass(frozen=True)
class PdBox:
    """One box of a canvas, numbered as ``#X connect`` counts them (comments and messages included).

    Attributes:
        x, y: position on the canvas in pixels (top left corner).
        kind: ``obj``, ``msg``, ``text``, ``floatatom``, ``symbolatom``, ``listbox``, or ``canvas`` (a subpatch,
            closed by ``#X restore``).
        atoms: the words after the position, up to trailing settings (``, f 60``): for ``obj`` the class name
            and its creation arguments.
    """

    x: int
    y: int
    kind: str
    atoms: tuple[str, ...]

    @property
    def name(self) -> str:
        """The object class (``obj``), or the kind for every other box."""
        return self.atoms[0] if self.kind == "obj" and self.atoms else self.kind


@dataclass(frozen=True)
class PdPatch:
    """The top-level canvas of a patch: its boxes and ``(source, outlet, sink, inlet)`` connections."""

    boxes: list[PdBox]
    connections: list[tuple[int, int, int, int]]


def _records(text: str) -> list[list[str]]:
    """Split patch text into records (ended by an unescaped ``;``), each a list of words; an unescaped ``,``
    (which separates a box from trailing settings such as ``, f 60``, its width) is a word of its own."""
    records, current = [], []
    for word in re.findall(r"(?:\\.|[^\s;,\\])+|[;,]", text):
        if word == ";":
            records.append(current)
            current = []
        else:
            current.append(word)
    if current:
        raise ValueError(f"patch text ends inside a record: {' '.join(current)[:80]!r}")
    return records


def parse_pd(text: str) -> PdPatch:
    """Parse the top-level canvas of a ``.pd`` file (subpatches count as one box each).

    Raises:
        ValueError: a record that is not part of the format, or unbalanced ``#N canvas``/``#X restore``.
    """
    boxes: list[PdBox] = []
    connections: list[tuple[int, int, int, int]] = []
    depth = 0
    for record in _records(text):
        head = record[:2]
        if head == ["#N", "canvas"]:
            depth += 1
            continue
        if head == ["#X", "restore"]:
            depth -= 1
            if depth < 1:
                raise ValueError("#X restore without a subpatch")
            if depth == 1:
                boxes.append(PdBox(int(record[2]), int(record[3]), "canvas", tuple(record[4:])))
            continue
        if depth != 1:
            continue  # inside a subpatch, or array data
        if head == ["#X", "connect"]:
            connections.append(tuple(int(v) for v in record[2:6]))  # type: ignore[arg-type]
        elif record[0] == "#X" and record[1] in {"obj", "msg", "text", "floatatom", "symbolatom", "listbox"}:
            words = record[4:]
            atoms = tuple(words[: words.index(",")] if "," in words else words)
            boxes.append(PdBox(int(record[2]), int(record[3]), record[1], atoms))
        elif head not in (["#X", "coords"], ["#X", "declare"]):
            raise ValueError(f"record not handled here: {' '.join(record)[:80]!r}")
    if depth != 1:
        raise ValueError("unbalanced #N canvas / #X restore")
    return PdPatch(boxes, connections)


def receive_name(box: PdBox) -> str | None:
    """The receive symbol of a GUI box (``hsl``/``vsl``/``cnv`` object, number box), or None when it has none."""
    if box.kind == "floatatom":
        name = box.atoms[5]
    elif box.kind == "obj" and box.name in {"hsl", "vsl"}:
        name = box.atoms[8]
    elif box.kind == "obj" and box.name == "cnv":
        name = box.atoms[5]
    else:
        return None
    return None if name in {"-", "empty"} else name


def io_counts(box: PdBox) -> tuple[int, int]:
    """(inlets, outlets) of a box as Pd 0.53 creates it, for the classes the project's patches use.

    Measured by loading patches that connect every inlet and outlet index in Pd 0.53 (a connection to a
    missing one is reported as "connection failed").

    Raises:
        KeyError: a class this table does not know.
    """
    if box.kind == "text":
        return 0, 0
    if box.kind == "msg":
        return 1, 1
    if box.kind == "floatatom":
        return (0 if receive_name(box) else 1), 1
    args = box.atoms[1:]
    fixed = {
        "netreceive": (1, 1),  # with -u: no connection-count outlet
        "oscparse": (1, 1),
        "list": (1, 1),  # [list trim]
        "unpack": (1, len(args)),
        "pack": (len(args), 1),
        "+": (2, 1),
        "*": (2, 1),
        "print": (1, 0),
        "loadbang": (0, 1),
        "cnv": (0, 0),
    }
    name = box.name
    if name in fixed:
        if name == "list" and args[:1] != ("trim",):
            raise KeyError(f"list {args[:1]}")
        if name == "netreceive" and "-u" not in args:
            raise KeyError("netreceive without -u")
        return fixed[name]
    if name == "route":
        return (2, 2) if len(args) == 1 else (1, len(args) + 1)
    if name in {"s", "send"}:
        return (1 if args else 2), 0
    if name in {"r", "receive"}:
        return (0 if args else 1), 1
    if name in {"hsl", "vsl"}:
        return (0 if receive_name(box) else 1), 1
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------- Pd process


def ready_probe(path: Path) -> Path:
    """Write a patch that prints :data:`READY` on load; opened last, it tells that Pd has created everything."""
    path.write_text(
        "#N canvas 0 50 300 200 12;\n#X obj 20 20 loadbang;\n#X obj 20 50 print READY;\n#X connect 0 0 1 0;\n"
    )
    return path


class PdCannotStart(RuntimeError):
    """Pd exited or printed nothing while loading (a broken installation, not a fault of the patches)."""


class PureData:
    """``pd -nogui -noaudio`` with the given patches open; every line it prints is collected.

    Args:
        patches: opened in this order; the last one should print :data:`READY` from a ``loadbang``.
        timeout: seconds to wait for :data:`READY`.

    Raises:
        PdCannotStart: Pd exited, or :data:`READY` did not come within ``timeout``.
    """

    def __init__(self, patches: list[Path], timeout: float = 20.0) -> None:
        assert PD is not None
        command = [PD, "-nogui", "-noaudio", "-nomidi", "-nrt"]
        for patch in patches:
            command += ["-open", str(patch)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise PdCannotStart(f"no {READY!r} within {timeout} s; Pd printed: {self.log!r}") from None
            if line == READY:
                return
            if line == "" and self.process.poll() is not None:
                raise PdCannotStart(f"Pd exited with code {self.process.returncode}; it printed: {self.log!r}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.log.append(line)
            self.lines.put(line)
        self.lines.put("")  # end of output

    def take(self, prefix: str, n: int, timeout: float = 10.0) -> list[str]:
        """The next ``n`` lines starting with ``prefix`` (others are skipped), each waited for in turn."""
        got: list[str] = []
        while len(got) < n:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"only {len(got)} of {n} {prefix!r} lines within {timeout} s of each other"
                ) from None
            if line.startswith(prefix):
                got.append(line[len(prefix) :])
        return got

    def drain(self, wait: float = 0.5) -> list[str]:
        """Every line printed within ``wait`` seconds from now (to check that nothing more came)."""
        time.sleep(wait)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get_nowait())
        return [line for line in rest if line]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
