"""The music fetcher, offline: licences from Debian copyright files, which files count as music (in a folder
of the package or in a zip archive it holds), the manifest that makes a second run skip what is already there,
and whole fetches from small .deb files built here, with ``apt-get download`` served from them."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.errors import DeviceError
from train import fetch_music
from train.fetch_music import (
    DEFAULT_SET,
    PACKAGES,
    SETS,
    MusicSource,
    Track,
    archive_tracks,
    copy_from_archive,
    dep5_stanzas,
    fetch_all,
    folder_tracks,
    licence_for,
    main,
    read_manifest,
    run_tool,
)

needs_dpkg_deb = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb")

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


def test_only_files_with_the_suffix_below_the_music_folder_are_kept(tmp_path):
    names = (
        "usr/share/game/music/a.ogg",
        "usr/share/game/music/lose/b.ogg",
        "usr/share/game/music/c.mp3",
        "usr/share/game/sounds/music/d.ogg",
        "usr/share/game/music/notes.txt",
        "usr/share/doc/game/copyright",
    )
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    source = MusicSource("usr/share/game/music")
    assert [str(below) for _, below in folder_tracks(tmp_path, source)] == ["a.ogg", "lose/b.ogg"]
    mp3 = MusicSource("usr/share/game/music", suffix=".mp3")
    assert [str(below) for _, below in folder_tracks(tmp_path, mp3)] == ["c.mp3"]
    assert folder_tracks(tmp_path, MusicSource("usr/share/other/music")) == []


def test_only_archive_members_with_the_suffix_below_the_folder_are_kept():
    names = ["sound/cdtracks/", "sound/cdtracks/b.ogg", "sound/cdtracks/a.ogg", "sound/misc/c.ogg", "sound/cd.ogg"]
    names += ["sound/cdtracks/../../x.ogg", "sound/cdtracks/readme.txt", "sound/cdtracks/live/d.ogg"]
    found = archive_tracks(names, MusicSource("sound/cdtracks", archive="data/music.pk3"))
    assert [(name, str(below)) for name, below in found] == [
        ("sound/cdtracks/a.ogg", "a.ogg"),
        ("sound/cdtracks/b.ogg", "b.ogg"),
        ("sound/cdtracks/live/d.ogg", "live/d.ogg"),
    ]


def test_a_missing_or_broken_archive_is_a_one_line_device_error(tmp_path):
    source = MusicSource("music", archive="base/0music.pk3")
    with pytest.raises(DeviceError, match="no base/0music.pk3 in the package"):
        copy_from_archive(tmp_path, "base/0music.pk3", source, tmp_path / "out")
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "0music.pk3").write_bytes(b"not a zip")
    with pytest.raises(DeviceError, match="base/0music.pk3 is not a zip archive"):
        copy_from_archive(tmp_path, "base/0music.pk3", source, tmp_path / "out")


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


def test_the_default_set_is_unchanged_and_the_wide_set_adds_the_other_packages():
    assert DEFAULT_SET == ("wesnoth-1.16-music", "singularity-music", "hyperrogue-music")
    assert SETS["default"] == DEFAULT_SET
    assert SETS["wide"][:3] == DEFAULT_SET
    assert set(SETS["wide"]) == set(PACKAGES)
    assert len(SETS["wide"]) == 8


def test_the_command_line_fetches_a_named_set_or_the_packages_named(tmp_path, monkeypatch, capsys):
    asked = []

    def fake_fetch_all(out_dir, packages):
        asked.append(list(packages))
        return []

    monkeypatch.setattr(fetch_music, "fetch_all", fake_fetch_all)
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--set", "wide"]) == 0
    assert main(["--out", str(tmp_path), "--packages", "asc-music", "ufoai-music"]) == 0
    assert asked == [list(DEFAULT_SET), list(SETS["wide"]), ["asc-music", "ufoai-music"]]
    for wrong in (["--set", "wide", "--packages", "asc-music"], ["--packages", "no-such-package"]):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path), *wrong])
    assert "not allowed with argument" in capsys.readouterr().err


def encoded(audio: np.ndarray, file_format: str) -> bytes:
    """``audio`` (22050 Hz) encoded as Ogg Vorbis or MP3, in memory."""
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, 22050, format=file_format)
    return buffer.getvalue()


def build_deb(folder: Path, package: str, files: dict[str, bytes]) -> Path:
    """An ``all``-architecture ``.deb`` of ``package`` (version 1.0-1) holding ``files`` (path -> content)."""
    tree = folder / f"{package}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Nobody <nobody@example.org>\n"
        "Description: music for a test\n",
        encoding="utf-8",
    )
    for name, content in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    deb = folder / f"{package}_1.0-1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Znone", "--build", str(tree), str(deb)], check=True, capture_output=True
    )
    return deb


def serve_debs(monkeypatch, debs: dict[str, Path]) -> list[str]:
    """Answer ``apt-get download`` with the ``.deb`` files built here (other tools run for real); returns the
    list of packages asked for, filled as the fetcher runs."""
    asked = []
    real_run_tool = fetch_music.run_tool

    def run(command, cwd):
        if command[:2] == ["apt-get", "download"]:
            asked.append(command[-1])
            shutil.copy(debs[command[-1]], cwd)
            return ""
        return real_run_tool(command, cwd)

    monkeypatch.setattr(fetch_music, "run_tool", run)
    return asked


GAME_DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: game

Files: *
Copyright: 2011 Someone
License: GPL-2+

Files:
 base/music/theme.ogg
 base/textures/*
Copyright: 2012 A Composer
License: CC-BY-SA-3.0

Files: base/sound/*
Copyright: 2013 Someone Else
License: CC0-1.0
"""


def pk3(files: dict[str, bytes]) -> bytes:
    """A zip archive (a game's ``.pk3``) of ``files``, with folder entries as game archives have them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("music/", b"")
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@needs_dpkg_deb
def test_tracks_in_a_zip_archive_get_the_licence_of_their_overlaid_path_and_are_fetched_once(
    tmp_path, monkeypatch, music
):
    ogg = encoded(music, "OGG")
    archive = pk3(
        {"music/theme.ogg": ogg, "music/battle/one.ogg": ogg, "sound/click.ogg": ogg, "music/notes.txt": b"x"}
    )
    deb = build_deb(
        tmp_path,
        "game-music",
        {"usr/share/games/game/base/0music.pk3": archive, "usr/share/doc/game-music/copyright": GAME_DEP5.encode()},
    )
    source = MusicSource("music", archive="usr/share/games/game/base/0music.pk3")
    monkeypatch.setitem(fetch_music.PACKAGES, "game-music", source)
    asked = serve_debs(monkeypatch, {"game-music": deb})
    out = tmp_path / "out"

    tracks = fetch_all(out, ["game-music"])

    assert [(t.track, t.licence) for t in tracks] == [
        ("game-music/battle/one.ogg", "GPL-2+"),
        ("game-music/theme.ogg", "CC-BY-SA-3.0"),
    ]
    assert {(t.package, t.version, t.sample_rate, t.channels) for t in tracks} == {("game-music", "1.0-1", 22050, 1)}
    assert all(t.duration_s == pytest.approx(0.75, abs=0.01) for t in tracks)
    assert (out / "game-music" / "theme.ogg").read_bytes() == ogg
    assert not (out / "game-music" / "click.ogg").exists()
    assert (out / "game-music" / "copyright").read_text(encoding="utf-8") == GAME_DEP5
    assert read_manifest(out) == tracks

    assert fetch_all(out, ["game-music"]) == tracks
    assert asked == ["game-music"]


@needs_dpkg_deb
def test_tracks_in_a_folder_get_the_package_licence_when_the_copyright_file_is_not_machine_readable(
    tmp_path, monkeypatch, music
):
    mp3 = encoded(music, "MP3")
    deb = build_deb(
        tmp_path,
        "plain-music",
        {
            "usr/share/games/plain/music/a.mp3": mp3,
            "usr/share/games/plain/music/lose/b.mp3": mp3,
            "usr/share/games/plain/music/c.ogg": encoded(music, "OGG"),
            "usr/share/games/plain/sfx/d.mp3": mp3,
            "usr/share/doc/plain-music/copyright": b"This package was debianized by someone.\n\nLicense: GPL-3+\n",
        },
    )
    monkeypatch.setitem(
        fetch_music.PACKAGES, "plain-music", MusicSource("usr/share/games/plain/music", licence="GPL-3+", suffix=".mp3")
    )
    serve_debs(monkeypatch, {"plain-music": deb})

    tracks = fetch_all(tmp_path / "out", ["plain-music"])

    assert [(t.track, t.licence, t.sample_rate) for t in tracks] == [
        ("plain-music/a.mp3", "GPL-3+", 22050),
        ("plain-music/lose/b.mp3", "GPL-3+", 22050),
    ]
    assert all(t.duration_s > 0.7 for t in tracks)

    monkeypatch.setitem(fetch_music.PACKAGES, "plain-music", MusicSource("usr/share/games/plain/tunes"))
    with pytest.raises(DeviceError, match=r"^plain-music: no \.ogg tracks below usr/share/games/plain/tunes$"):
        fetch_all(tmp_path / "elsewhere", ["plain-music"])
