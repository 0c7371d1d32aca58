"""Capture of what C code writes to file descriptor 2: handed to the caller, the descriptor restored."""

from __future__ import annotations

import os

import pytest

from streamer.native_stderr import capture_native_stderr, pass_through


def test_descriptor_2_is_captured_and_restored(capfd) -> None:
    got: list[list[str]] = []
    with capture_native_stderr(got.append):
        os.write(2, b"[src/libmpg123/layer3.c:f():1] error: damaged\n\nNote: resync\n")  # as C code writes
        os.write(2, b"another thread's line\n")
    os.write(2, b"after\n")
    assert got == [["[src/libmpg123/layer3.c:f():1] error: damaged", "Note: resync", "another thread's line"]]
    assert capfd.readouterr().err == "after\n"


def test_lines_are_handed_over_after_an_error_too(capfd) -> None:
    got: list[list[str]] = []
    with pytest.raises(ValueError), capture_native_stderr(got.append):
        os.write(2, b"before the error\n")
        raise ValueError("in the block")
    assert got == [["before the error"]]
    pass_through(got[0])
    assert capfd.readouterr().err == "before the error\n"
