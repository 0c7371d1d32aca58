"""Reader for the 4Q audio emotion dataset (Panda, Malheiro & Paiva, IEEE TAFFC 2018).

Files, directly in the dataset folder:

- ``Q1/ .. Q4/<Song>.mp3``: 30 s clips, one folder per Russell quadrant.
- ``panda_dataset_taffc_metadata.csv``: quoted CSV with (at least) ``Song, Artist, Quadrant, PQuad``;
  ``PQuad`` is the share of the clip's mood tags that fall in its quadrant.
- ``panda_dataset_taffc_annotations.csv``: ``Song,Quadrant``; must agree with the metadata.

Labels. A quadrant fixes the sign of each dimension: Q1 = (+V, +A), Q2 = (-V, +A), Q3 = (-V, -A),
Q4 = (+V, -A); these signs are the exact high/low targets. The dataset has no magnitudes, so the regression
targets are ``sign * m`` on both axes with

    m = tag_magnitude * (4 * PQuad - 1) / 3,

the expected coordinate, along either axis, of the mean of the clip's mood tags if each tag sits at
distance ``tag_magnitude`` from both axes in its own quadrant and the tags outside the clip's quadrant are
spread evenly over the other three (along any one axis one of those three agrees in sign and two disagree:
``p - (1 - p) / 3``). A unanimous clip (PQuad = 1) gets ``m = tag_magnitude`` (0.75 by default: well inside
[-1, 1], clear of saturation); the dataset's least certain clips (PQuad ~ 0.52) get about 0.27; the sign
never changes because PQuad > 0.25 is required. ``confidence`` is PQuad itself.

Groups are artists (names compared after case-folding and collapsing whitespace; differently credited
line-ups such as "X & His Orchestra" count as other artists), so :func:`train.datasets.split.group_split`
holds out whole artists.
"""

from __future__ import annotations

from pathlib import Path

from damer_core.errors import ConfigError
from train.datasets.clip import Clip
from train.datasets.tables import Row, parse_number, read_csv, require_audio
from train.errors import WHERE_DATA_IS, DatasetError

SOURCE = "4q"
METADATA = "panda_dataset_taffc_metadata.csv"
ANNOTATIONS = "panda_dataset_taffc_annotations.csv"
DOWNLOAD_PAGE = "http://mir.dei.uc.pt/downloads.html"
"""The dataset's public page (its authors' lab, University of Coimbra)."""
QUADRANT_SIGNS = {"Q1": (1.0, 1.0), "Q2": (-1.0, 1.0), "Q3": (-1.0, -1.0), "Q4": (1.0, -1.0)}
DEFAULT_TAG_MAGNITUDE = 0.75


def axis_magnitude(p_quad: float, tag_magnitude: float = DEFAULT_TAG_MAGNITUDE) -> float:
    """Regression magnitude ``tag_magnitude * (4 * p_quad - 1) / 3`` for a clip with tag share ``p_quad``."""
    return tag_magnitude * (4.0 * p_quad - 1.0) / 3.0


def artist_group(artist: str) -> str:
    """The artist name as a split group: case-folded, whitespace collapsed."""
    return " ".join(artist.casefold().split())


def _quadrant(path: Path, row: Row) -> str:
    quadrant = row.cells["Quadrant"]
    if quadrant not in QUADRANT_SIGNS:
        raise DatasetError(f"{path}:{row.line}: column 'Quadrant': expected Q1, Q2, Q3 or Q4, got {quadrant!r}")
    return quadrant


def read_four_q(root: str | Path, tag_magnitude: float = DEFAULT_TAG_MAGNITUDE) -> list[Clip]:
    """Every 4Q clip listed in the metadata table, with quadrant-derived labels (module docstring).

    Args:
        root: the dataset folder (holding the two CSV files and Q1..Q4).
        tag_magnitude: regression magnitude of a unanimous clip, in (0, 1].

    Raises:
        ConfigError: ``tag_magnitude`` out of range.
        DatasetError: a table is missing or malformed, the tables disagree, a song repeats, an artist is
            empty, ``PQuad`` is not in (0.25, 1], or a clip's audio is missing (naming file and line).
    """
    if not 0.0 < tag_magnitude <= 1.0:
        raise ConfigError(f"tag_magnitude: must be in (0, 1], got {tag_magnitude!r}")
    root = Path(root)
    metadata_path, annotations_path = root / METADATA, root / ANNOTATIONS
    if not root.is_dir():
        raise DatasetError(
            f"{root}: the 4Q dataset is not there. Download it (Panda et al. 2018, research use only) from "
            f"{DOWNLOAD_PAGE} and unpack it so that {annotations_path} exists ({WHERE_DATA_IS})"
        )
    for path in (metadata_path, annotations_path):
        if not path.is_file():
            raise DatasetError(f"{path}: 4Q table not found")
    _, annotation_rows = read_csv(annotations_path, required=["Song", "Quadrant"])
    annotated: dict[str, tuple[str, int]] = {}
    for row in annotation_rows:
        song = row.cells["Song"]
        if song in annotated:
            first = annotated[song][1]
            raise DatasetError(f"{annotations_path}:{row.line}: song '{song}' appears again (first at line {first})")
        annotated[song] = (_quadrant(annotations_path, row), row.line)
    _, rows = read_csv(metadata_path, required=["Song", "Artist", "Quadrant", "PQuad"])
    clips: list[Clip] = []
    seen: set[str] = set()
    for row in rows:
        song, quadrant = row.cells["Song"], _quadrant(metadata_path, row)
        if song in seen:
            raise DatasetError(f"{metadata_path}:{row.line}: song '{song}' appears again")
        seen.add(song)
        if song not in annotated:
            raise DatasetError(f"{metadata_path}:{row.line}: song '{song}' is missing from {ANNOTATIONS}")
        if annotated[song][0] != quadrant:
            raise DatasetError(
                f"{metadata_path}:{row.line}: song '{song}' is {quadrant} here but {annotated[song][0]} in "
                f"{ANNOTATIONS} line {annotated[song][1]}"
            )
        if not row.cells["Artist"]:
            raise DatasetError(f"{metadata_path}:{row.line}: column 'Artist' is empty")
        p_quad = parse_number(metadata_path, row, "PQuad")
        if not 0.25 < p_quad <= 1.0:
            raise DatasetError(f"{metadata_path}:{row.line}: column 'PQuad': {p_quad:g} is outside (0.25, 1]")
        sign_v, sign_a = QUADRANT_SIGNS[quadrant]
        magnitude = axis_magnitude(p_quad, tag_magnitude)
        clips.append(
            Clip(
                track_id=song,
                source=SOURCE,
                group=artist_group(row.cells["Artist"]),
                valence=sign_v * magnitude,
                arousal=sign_a * magnitude,
                audio_path=require_audio(root / quadrant / f"{song}.mp3", metadata_path, row),
                confidence=p_quad,
            )
        )
    extra = sorted(set(annotated) - seen)
    if extra:
        raise DatasetError(f"{annotations_path}:{annotated[extra[0]][1]}: song '{extra[0]}' is missing from {METADATA}")
    return clips
