"""The music fetcher's offline parts: licences from Debian copyright files, which files count as music, and
the manifest that makes a second run skip what is already there."""

from __future__ import annotations

import pytest

from damer_core.errors import DeviceError
from train import fetch_music
from train.fetch_music import (
    Track,
    dep5_stanzas,
    fetch_all,
    licence_for,
    music_tracks,
    read_manifest,
    run_tool,
)

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: game

Files: *
Copyright: 2011 Someone
License: GPL-2+

Files: music/theme.ogg
       music/battle-*.ogg
Copyright: 2012 A Composer
License: CC-BY-SA-3.0
 Full text elided.

Files: sounds/*
Copyright: 2013 Someone Else
License: CC0-1.0
"""


def test_dep5_licences_match_installed_paths_last_stanza_wins():
    stanzas = dep5_stanzas(DEP5)
    assert stanzas == [
        (["*"], "GPL-2+"),
        (["music/theme.ogg", "music/battle-*.ogg"], "CC-BY-SA-3.0"),
        (["sounds/*"], "CC0-1.0"),
    ]
    assert licence_for("usr/share/game/music/theme.ogg", stanzas) == "CC-BY-SA-3.0"
    assert licence_for("usr/share/game/music/battle-2.ogg", stanzas) == "CC-BY-SA-3.0"
    assert licence_for("usr/share/game/music/other.ogg", stanzas) == "GPL-2+"
    assert licence_for("usr/share/game/sounds/click.ogg", stanzas) == "CC0-1.0"
    assert dep5_stanzas("This package was debianized by someone.\n\nLicense: GPL\n") is None


def test_only_ogg_files_below_a_music_folder_are_kept(tmp_path):
    names = (
        "usr/share/game/music/a.ogg",
        "usr/share/game/music/lose/b.ogg",
        "usr/share/game/sounds/c.ogg",
        "usr/share/game/music/notes.txt",
        "usr/share/doc/game/copyright",
    )
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [str(below) for _, below in music_tracks(tmp_path)] == ["a.ogg", "lose/b.ogg"]


def test_complete_packages_are_not_fetched_again_and_incomplete_ones_are(tmp_path, monkeypatch):
    (tmp_path / "pkg-a").mkdir()
    (tmp_path / "pkg-a" / "one.ogg").write_bytes(b"12345")
    kept = Track("pkg-a/one.ogg", "pkg-a", "1.0", "GPL-2+", 60.0, 44100, 2, 5)
    fetch_music.write_manifest(tmp_path, [kept])
    fetched = Track("pkg-b/two.ogg", "pkg-b", "2.0", "CC-BY-SA-3.0", 30.0, 44100, 2, 3)
    calls = []

    def fake_fetch(package, out_dir):
        calls.append(package)
        return [fetched]

    monkeypatch.setattr(fetch_music, "fetch_package", fake_fetch)
    assert fetch_all(tmp_path, ["pkg-a", "pkg-b"]) == [kept, fetched]
    assert calls == ["pkg-b"]
    assert read_manifest(tmp_path) == [kept, fetched]

    (tmp_path / "pkg-a" / "one.ogg").write_bytes(b"123")
    monkeypatch.setattr(fetch_music, "fetch_package", lambda package, out_dir: [kept])
    fetch_all(tmp_path, ["pkg-a"])
    assert read_manifest(tmp_path) == [fetched, kept]


def test_a_missing_or_failing_tool_is_a_one_line_device_error(tmp_path):
    with pytest.raises(DeviceError, match="not found"):
        run_tool(["no-such-tool-for-damer"], cwd=tmp_path)
    with pytest.raises(DeviceError, match="failed"):
        run_tool(["ls", str(tmp_path / "missing")], cwd=tmp_path)
