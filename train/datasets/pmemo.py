"""Reader for PMEmo 2019 (Zhang et al., ICMR 2018): chorus clips of popular songs.

Files used, found by name anywhere below the dataset folder:

- ``static_annotations.csv``: ``musicId,Arousal(mean),Valence(mean)``, values in [0, 1].
- ``dynamic_annotations.csv``: ``musicId,frameTime,Arousal(mean),Valence(mean)``, one row per song and
  instant (2 Hz), ``frameTime`` in seconds from the start of the chorus clip, values in [0, 1].
- ``chorus/<musicId>.mp3``.

Label mapping: ``2x - 1`` for static and dynamic values (0 -> -1, 0.5 -> 0, 1 -> +1). Groups are music
ids (splits by track).
"""

from __future__ import annotations

from pathlib import Path

from train.datasets.clip import Clip, DynamicLabels
from train.datasets.tables import (
    UNIT_INTERVAL,
    Row,
    dynamic_from_points,
    find_path,
    group_rows,
    parse_label,
    parse_number,
    read_csv,
    require_audio,
)
from train.errors import DatasetError

SOURCE = "pmemo"
ID, AROUSAL, VALENCE, TIME = "musicId", "Arousal(mean)", "Valence(mean)", "frameTime"


def _point(path: Path, row: Row) -> tuple[float, float, float, int]:
    """``(time_s, valence, arousal, line)`` of one dynamic row."""
    valence = parse_label(path, row, VALENCE, UNIT_INTERVAL)
    return parse_number(path, row, TIME), valence, parse_label(path, row, AROUSAL, UNIT_INTERVAL), row.line


def _read_dynamic(path: Path) -> dict[str, DynamicLabels]:
    _, rows = read_csv(path, required=[ID, TIME, AROUSAL, VALENCE])
    by_song = group_rows(rows, lambda r: r.cells[ID])
    return {
        song: dynamic_from_points(path, song, [_point(path, r) for r in song_rows])
        for song, song_rows in by_song.items()
    }


def read_pmemo(root: str | Path, dynamic: bool = True) -> list[Clip]:
    """All PMEmo songs below ``root`` as clips with static (and, if ``dynamic``, 2 Hz dynamic) labels.

    Raises:
        DatasetError: a required file is missing or ambiguous, a row is malformed, a label is out of range,
            a song or instant is repeated, or a song's audio is missing (naming the file and line).
    """
    root = Path(root)
    static_path = find_path(root, "static_annotations.csv")
    _, rows = read_csv(static_path, required=[ID, AROUSAL, VALENCE])
    dynamic_path = find_path(root, "dynamic_annotations.csv") if dynamic else None
    labels = _read_dynamic(dynamic_path) if dynamic_path is not None else {}
    audio_dir = find_path(root, "chorus", is_dir=True)
    clips: list[Clip] = []
    first_line: dict[str, int] = {}
    for row in rows:
        song = row.cells[ID]
        if song in first_line:
            first = first_line[song]
            raise DatasetError(f"{static_path}:{row.line}: song '{song}' appears again (first at line {first})")
        first_line[song] = row.line
        clips.append(
            Clip(
                track_id=song,
                source=SOURCE,
                group=song,
                valence=parse_label(static_path, row, VALENCE, UNIT_INTERVAL),
                arousal=parse_label(static_path, row, AROUSAL, UNIT_INTERVAL),
                audio_path=require_audio(audio_dir / f"{song}.mp3", static_path, row),
                dynamic=labels.get(song),
            )
        )
    orphans = sorted(set(labels) - set(first_line))
    if orphans:
        raise DatasetError(f"{dynamic_path}: song '{orphans[0]}' has dynamic labels but no row in {static_path.name}")
    return clips
