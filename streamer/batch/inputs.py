"""What ``damer analyze PATHS...`` analyses: files, folders walked recursively, glob patterns.

* A **file** (or any path that is not a folder nor a pattern: a missing file, a FIFO, ...) is one input, as
  often as it is named; the analysis says what is wrong with it.
* A **folder** is walked recursively: every file whose suffix is a sound file's
  (:data:`~streamer.sources.kinds.AUDIO_SUFFIXES`, any case) in sorted order of its path below the
  folder, hidden files and folders (a leading dot) left out, symbolic links to folders not followed. A
  folder with no sound file below it is one input that fails (it is not a sound file).
* A **pattern** (``*``, ``?``, ``[...]``; ``**`` spans folders) that names no existing path as it is written
  is expanded (quoted, so the shell did not): its matches in sorted order, folders among them walked. A
  pattern that matches nothing is one input that fails.

A file found by walking or by a pattern is left out when it is already in the list (the same file by its
resolved path); the order is otherwise the order given. Nothing is opened here.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streamer.sources.kinds import AUDIO_SUFFIXES

_MAGIC = set("*?[")


@dataclass(frozen=True)
class Input:
    """One input of the run.

    Attributes:
        path: the file (as given, or as the walk or the pattern found it).
        problem: why it cannot be analysed, known without opening it (the whole message), else None.
    """

    path: Path
    problem: str | None = None


def expand_inputs(arguments: Sequence[str]) -> list[Input]:
    """The inputs named by the command line's ``arguments``, in order (see the module docstring)."""
    inputs: list[Input] = []
    seen: set[Path] = set()

    def add_found(paths: Iterable[Path]) -> None:
        for path in paths:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                inputs.append(Input(path))

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = walk_sound_files(path)
            if found:
                add_found(found)
            else:
                inputs.append(Input(path, f"{path}: not a regular file (a folder) and no sound file below it"))
        elif _MAGIC & set(argument) and not os.path.lexists(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                inputs.append(Input(path, f"{argument}: no file matches this pattern"))
            for match in map(Path, matches):
                add_found(walk_sound_files(match) if match.is_dir() else [match])
        else:
            seen.add(path.resolve())
            inputs.append(Input(path))
    return inputs


def walk_sound_files(folder: Path) -> list[Path]:
    """Sound files below ``folder`` (recursively, by suffix), sorted by their path below it; hidden names
    left out."""
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES:
                found.append(Path(root) / name)
    return sorted(found, key=lambda path: path.relative_to(folder).parts)
