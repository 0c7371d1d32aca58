"""Atomic output files: all or nothing under the final name, with the permissions of any new file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from damer_core.atomic import atomic_path, new_file_mode, write_atomically


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask 022", "umask 077", "umask 002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_files_get_the_mode_of_any_new_file(tmp_path: Path, umask: int) -> None:
    """Not mkstemp's 0600: results a user made are readable like any file they write."""
    assert new_file_mode() == 0o666 & ~umask
    with atomic_path(tmp_path / "a.csv") as temporary:
        temporary.write_text("a")
    write_atomically(tmp_path / "b.json", lambda handle: handle.write(b"{}"))
    (tmp_path / "plain.txt").write_text("c")
    expected = (tmp_path / "plain.txt").stat().st_mode & 0o777
    for name in ("a.csv", "b.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected == 0o666 & ~umask


def test_write_atomically_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    def write(handle) -> None:
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "sub" / "out.bin", write)
    assert list((tmp_path / "sub").iterdir()) == []
