"""What ``damer analyze PATHS...`` analyses: files as named, folders walked, patterns expanded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamer.batch.inputs import Input, expand_inputs


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``lib/`` with sound files at several depths, other files, hidden ones; the current folder is tmp_path."""
    names = [
        "lib/b.ogg",
        "lib/a.WAV",
        "lib/notes.txt",
        "lib/cover.png",
        "lib/.hidden.wav",
        "lib/.cache/x.wav",
        "lib/disc 2/c.flac",
        "lib/disc 2/deeper/d.mp3",
        "lib/z.opus",
    ]
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path / "lib"


def paths(inputs: list[Input]) -> list[str]:
    return [str(item.path) for item in inputs]


def test_a_folder_is_walked_recursively_in_sorted_order_by_suffix(library: Path) -> None:
    assert paths(expand_inputs(["lib"])) == [
        "lib/a.WAV",
        "lib/b.ogg",
        "lib/disc 2/c.flac",
        "lib/disc 2/deeper/d.mp3",
        "lib/z.opus",
    ]


def test_patterns_are_expanded_and_files_are_kept_as_named(library: Path) -> None:
    assert paths(expand_inputs(["lib/*.ogg", "lib/**/*.flac", "lib/z.opus"])) == [
        "lib/b.ogg",
        "lib/disc 2/c.flac",
        "lib/z.opus",
    ]
    # A pattern that matches a folder walks it.
    assert paths(expand_inputs(["lib/disc*"])) == ["lib/disc 2/c.flac", "lib/disc 2/deeper/d.mp3"]


def test_found_files_are_not_repeated_named_files_are(library: Path) -> None:
    """A file a folder or a pattern finds again is left out; a file named twice is analysed twice (as named)."""
    found = paths(expand_inputs(["lib/b.ogg", "lib", "./lib/*.ogg", "lib/b.ogg"]))
    assert found == [
        "lib/b.ogg",
        "lib/a.WAV",
        "lib/disc 2/c.flac",
        "lib/disc 2/deeper/d.mp3",
        "lib/z.opus",
        "lib/b.ogg",
    ]


def test_what_cannot_be_expanded_is_one_failing_input(library: Path) -> None:
    inputs = expand_inputs(["empty", "lib/*.aiff", "missing.wav"])
    assert inputs == [
        Input(Path("empty"), "empty: not a regular file (a folder) and no sound file below it"),
        Input(Path("lib/*.aiff"), "lib/*.aiff: no file matches this pattern"),
        Input(Path("missing.wav")),  # its analysis says it is missing
    ]


def test_a_name_with_pattern_characters_that_exists_is_a_file(library: Path) -> None:
    odd = library / "take [1].wav"
    odd.write_bytes(b"x")
    assert paths(expand_inputs([os.path.relpath(odd)])) == ["lib/take [1].wav"]
