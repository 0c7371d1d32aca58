"""Fetch DFSG-free instrumental music from Debian packages, without installing them.

``python -m train.fetch_music --out DIR`` runs ``apt-get download`` for each package, unpacks the ``.deb``
with ``dpkg-deb -x`` into a temporary folder and copies the package's tracks to
``DIR/<package>/<path below its music folder>``. :data:`PACKAGES` says where each package keeps its music:
a folder inside the ``.deb``, or a zip archive inside the ``.deb`` (a game's ``.pk3``) and a folder inside
that archive; only that folder is read, so game sound effects elsewhere are left out. ``--set default``
(the default) fetches :data:`DEFAULT_SET`, ``--set wide`` every package in :data:`PACKAGES`, and
``--packages NAME...`` the packages named. It writes ``DIR/manifest.csv`` with one row per track::

    track,package,version,licence,duration_s,sample_rate,channels,bytes

``track`` is relative to ``DIR``. The licence comes from the package's ``copyright`` file: per file for
machine-readable (DEP-5) copyright files, otherwise the package-wide licence stated in that file, which
is recorded in :data:`PACKAGES`. A track inside a zip archive is matched as if the archive were unpacked
in the folder that holds it, as the game reads it (ufoai-music's ``base/0music.pk3`` member
``music/dawn.ogg`` is ``base/music/dawn.ogg``, the path its copyright file names). Each package's
``copyright`` file is kept beside its tracks as ``DIR/<package>/copyright``.

Running it again skips packages whose tracks are all present with their recorded sizes.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import soundfile

from damer_core.errors import ConfigError, DamerError, DeviceError

MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = ("track", "package", "version", "licence", "duration_s", "sample_rate", "channels", "bytes")


@dataclass(frozen=True)
class MusicSource:
    """Where a package keeps its music, and its licence when the copyright file is not machine-readable.

    ``folder`` is a folder inside the ``.deb``, or inside the zip file ``archive`` when that names one inside
    the ``.deb``. Every file ending in ``suffix`` below ``folder`` is a track. ``licence`` is read by hand
    from the package's copyright file; ``None`` where that file is DEP-5 and gives each track its own.
    """

    folder: str
    licence: str | None = None
    archive: str | None = None
    suffix: str = ".ogg"


# Licences set here were read from copyright files that are not machine-readable: wesnoth-1.16-music and
# nexuiz-music state GPL-2 or later for the whole game data; singularity-music carries the full Creative
# Commons Attribution-ShareAlike 3.0 text. The others have DEP-5 files, read per track: hyperrogue-music's
# and ufoai-music's name every track (ufoai-music's by the path the game reads inside its .pk3);
# supertuxkart-data's names 29 of its 38, and the rest fall under its "Files: *" stanza (GPL-3+), as DEP-5
# says; planetblupi-music-ogg's and asc-music's have only "Files: *" (GPL-3+, GPL-2+). asc-music is MP3.
# Left out: fb-music-high (a single tracker module) and xblast-tnt-musics (headerless PCM of unknown format).
PACKAGES: dict[str, MusicSource] = {
    "wesnoth-1.16-music": MusicSource("usr/share/games/wesnoth/1.16/data/core/music", licence="GPL-2+"),
    "singularity-music": MusicSource("usr/share/games/singularity/music", licence="CC-BY-SA-3.0"),
    "hyperrogue-music": MusicSource("usr/share/hyperrogue/music"),
    "nexuiz-music": MusicSource("sound/cdtracks", licence="GPL-2+", archive="usr/share/games/nexuiz/data/music.pk3"),
    "ufoai-music": MusicSource("music", archive="usr/share/games/ufoai/base/0music.pk3"),
    "supertuxkart-data": MusicSource("usr/share/games/supertuxkart/data/music"),
    "planetblupi-music-ogg": MusicSource("usr/share/planetblupi/music"),
    "asc-music": MusicSource("usr/share/games/asc/music", suffix=".mp3"),
}

# The packages the shipped model's recipe was trained on; ``wide`` adds the rest of PACKAGES.
DEFAULT_SET = ("wesnoth-1.16-music", "singularity-music", "hyperrogue-music")
SETS: dict[str, tuple[str, ...]] = {"default": DEFAULT_SET, "wide": tuple(PACKAGES)}


@dataclass(frozen=True)
class Track:
    """One fetched track: ``track`` is the path relative to the output folder; duration in seconds."""

    track: str
    package: str
    version: str
    licence: str
    duration_s: float
    sample_rate: int
    channels: int
    bytes: int


def dep5_stanzas(copyright_text: str) -> list[tuple[list[str], str]] | None:
    """Parse a machine-readable Debian copyright file into ``[(file patterns, licence short name)]``.

    Returns ``None`` when the text is not in the DEP-5 format (no ``Format:`` header).
    """
    paragraphs = [p for p in copyright_text.split("\n\n") if p.strip()]
    if not paragraphs or not paragraphs[0].startswith("Format:"):
        return None
    stanzas = []
    for paragraph in paragraphs[1:]:
        fields: dict[str, list[str]] = {}
        current = None
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and current is not None:
                fields[current].append(line.strip())
            elif ":" in line:
                current, value = line.split(":", 1)
                fields[current] = [value.strip()]
        if "Files" in fields and "License" in fields:
            patterns = " ".join(fields["Files"]).split()
            stanzas.append((patterns, fields["License"][0]))
    return stanzas


def licence_for(installed_path: str, stanzas: list[tuple[list[str], str]]) -> str | None:
    """The licence of ``installed_path`` (e.g. ``usr/share/x/music/a.ogg``) under DEP-5 rules: the last
    stanza whose pattern matches wins; patterns are relative to the source tree, so they are matched
    against every suffix of the installed path."""
    found = None
    for patterns, licence in stanzas:
        if any(
            fnmatch.fnmatchcase(installed_path, p) or fnmatch.fnmatchcase(installed_path, "*/" + p) for p in patterns
        ):
            found = licence
    return found


def folder_tracks(root: Path, source: MusicSource) -> list[tuple[Path, PurePosixPath]]:
    """Files ending in ``source.suffix`` below ``root/source.folder``: ``(file, path below that folder)``."""
    base = root / source.folder
    return [
        (path, PurePosixPath(path.relative_to(base).as_posix()))
        for path in sorted(base.rglob("*" + source.suffix))
        if path.is_file()
    ]


def archive_tracks(names: Sequence[str], source: MusicSource) -> list[tuple[str, PurePosixPath]]:
    """Zip member ``names`` ending in ``source.suffix`` below ``source.folder``: ``(name, path below it)``."""
    folder = PurePosixPath(source.folder)
    found = []
    for name in sorted(names):
        path = PurePosixPath(name)
        if name.endswith(source.suffix) and path.is_relative_to(folder) and ".." not in path.parts:
            found.append((name, path.relative_to(folder)))
    return found


def copy_from_folder(tree: Path, source: MusicSource, package_dir: Path) -> list[tuple[Path, str]]:
    """Copy the tracks below ``source.folder`` of the unpacked ``tree``: ``[(copy, installed path)]``."""
    copied = []
    for path, below in folder_tracks(tree, source):
        target = package_dir / below
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append((target, path.relative_to(tree).as_posix()))
    return copied


def copy_from_archive(tree: Path, archive_path: str, source: MusicSource, package_dir: Path) -> list[tuple[Path, str]]:
    """Copy the tracks below ``source.folder`` inside the zip file ``archive_path`` of the unpacked ``tree``:
    ``[(copy, installed path)]``, the installed path as if the archive were unpacked where it lies."""
    path = tree / archive_path
    if not path.is_file():
        raise DeviceError(f"no {archive_path} in the package")
    overlay = PurePosixPath(archive_path).parent
    copied = []
    try:
        with zipfile.ZipFile(path) as archive:
            for name, below in archive_tracks(archive.namelist(), source):
                target = package_dir / below
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as member, target.open("wb") as handle:
                    shutil.copyfileobj(member, handle)
                copied.append((target, (overlay / name).as_posix()))
    except zipfile.BadZipFile as exc:
        raise DeviceError(f"{archive_path} is not a zip archive: {exc}") from exc
    return copied


def run_tool(command: list[str], cwd: Path) -> str:
    """Run an external tool; a missing tool or a failure is a one-line :class:`DeviceError`."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise DeviceError(f"{command[0]} not found: this script needs Debian's apt-get and dpkg-deb") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DeviceError(f"{' '.join(command)} failed: {last}")
    return done.stdout


def fetch_package(package: str, out_dir: Path) -> list[Track]:
    """Download and unpack ``package`` in a temporary folder; copy its music tracks into ``out_dir``."""
    source = PACKAGES[package]
    with tempfile.TemporaryDirectory(prefix="damer-fetch-") as tmp:
        work = Path(tmp)
        run_tool(["apt-get", "download", "-q", package], cwd=work)
        debs = sorted(work.glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise DeviceError(f"apt-get download {package}: expected one .deb, found {len(debs)}")
        version = run_tool(["dpkg-deb", "-f", str(debs[0]), "Version"], cwd=work).strip()
        tree = work / "tree"
        run_tool(["dpkg-deb", "-x", str(debs[0]), str(tree)], cwd=work)
        copyright_file = tree / "usr" / "share" / "doc" / package / "copyright"
        stanzas = dep5_stanzas(copyright_file.read_text(encoding="utf-8", errors="replace"))
        package_dir = out_dir / package
        package_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, package_dir / "copyright")
        try:
            if source.archive is None:
                copied = copy_from_folder(tree, source, package_dir)
            else:
                copied = copy_from_archive(tree, source.archive, source, package_dir)
        except DeviceError as exc:
            raise DeviceError(f"{package}: {exc}") from exc
        tracks = []
        for target, installed in copied:
            licence = licence_for(installed, stanzas) if stanzas is not None else source.licence
            if licence is None:
                raise ConfigError(f"{package}: no licence for {installed} in its copyright file")
            info = soundfile.info(str(target))
            tracks.append(
                Track(
                    track=target.relative_to(out_dir).as_posix(),
                    package=package,
                    version=version,
                    licence=licence,
                    duration_s=round(info.frames / info.samplerate, 3),
                    sample_rate=info.samplerate,
                    channels=info.channels,
                    bytes=target.stat().st_size,
                )
            )
    if not tracks:
        where = source.folder if source.archive is None else f"{source.folder} in {source.archive}"
        raise DeviceError(f"{package}: no {source.suffix} tracks below {where}")
    return tracks


def read_manifest(out_dir: Path) -> list[Track]:
    """Rows of ``out_dir/manifest.csv`` (empty when there is none)."""
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Track(
                track=row["track"],
                package=row["package"],
                version=row["version"],
                licence=row["licence"],
                duration_s=float(row["duration_s"]),
                sample_rate=int(row["sample_rate"]),
                channels=int(row["channels"]),
                bytes=int(row["bytes"]),
            )
            for row in csv.DictReader(handle)
        ]


def write_manifest(out_dir: Path, tracks: Sequence[Track]) -> None:
    """Write ``out_dir/manifest.csv`` atomically (a temporary file renamed over the old one)."""
    path = out_dir / MANIFEST_NAME
    partial = path.with_suffix(".csv.partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_FIELDS)
        for t in tracks:
            writer.writerow([getattr(t, name) for name in MANIFEST_FIELDS])
    partial.replace(path)


def is_complete(out_dir: Path, tracks: Sequence[Track]) -> bool:
    """Whether every track of a package's manifest rows is on disk with its recorded size."""
    return bool(tracks) and all(
        (out_dir / t.track).is_file() and (out_dir / t.track).stat().st_size == t.bytes for t in tracks
    )


def fetch_all(out_dir: Path, packages: Sequence[str]) -> list[Track]:
    """Fetch each package not already complete in ``out_dir``; return the manifest rows of ``packages``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    known = read_manifest(out_dir)
    result: list[Track] = []
    for package in packages:
        have = [t for t in known if t.package == package]
        if is_complete(out_dir, have):
            print(f"{package}: {len(have)} tracks already present", file=sys.stderr)
            result.extend(have)
            continue
        print(f"{package}: downloading", file=sys.stderr)
        fetched = fetch_package(package, out_dir)
        result.extend(fetched)
        known = [t for t in known if t.package != package] + fetched
        write_manifest(out_dir, known)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: fetch the packages, print a one-line summary per package and in total."""
    parser = argparse.ArgumentParser(prog="python -m train.fetch_music", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the tracks and manifest.csv")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--set",
        choices=list(SETS),
        default="default",
        help=f"named set of packages: default ({' '.join(DEFAULT_SET)}; used when neither option is given) "
        f"or wide (all {len(PACKAGES)} packages listed under --packages)",
    )
    chosen.add_argument(
        "--packages",
        nargs="+",
        choices=list(PACKAGES),
        metavar="PACKAGE",
        help=f"Debian packages to fetch instead of a set, among: {' '.join(PACKAGES)}",
    )
    args = parser.parse_args(argv)
    packages = args.packages or SETS[args.set]
    try:
        tracks = fetch_all(args.out, packages)
    except DamerError as exc:
        print(f"fetch_music: error: {exc}", file=sys.stderr)
        return 2
    for package in packages:
        rows = [t for t in tracks if t.package == package]
        print(f"{package}: {len(rows)} tracks, {sum(t.duration_s for t in rows) / 60:.1f} min")
    print(f"total: {len(tracks)} tracks, {sum(t.duration_s for t in tracks) / 60:.1f} min -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
