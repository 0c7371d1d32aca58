"""Reader for DEAM, the MediaEval Database for Emotional Analysis in Music (Aljanaki, Yang & Soleymani).

Files used, found by name anywhere below the dataset folder (the archives nest them differently):

- ``static_annotations_averaged_songs_1_2000.csv`` and, when present,
  ``static_annotations_averaged_songs_2000_2058.csv``: header
  ``song_id, valence_mean, valence_std, arousal_mean, arousal_std`` (names after the first carry a leading
  space; extra columns are ignored), means on the 1..9 scale.
- ``valence.csv`` and ``arousal.csv`` (dynamic, "per second annotations"): ``song_id,sample_15000ms,
  sample_15500ms,...`` at 2 Hz, values in [-1, 1], trailing cells empty for shorter songs.
- ``MEMD_audio/<song_id>.mp3``.

Label mapping: static ``(x - 5) / 4`` (1 -> -1, 5 -> 0, 9 -> +1); dynamic values unchanged, at the times of
their column names (``sample_15000ms`` -> 15.0 s from the start of the audio file). Groups are song ids,
so splits are by track (DEAM's artist metadata, laid out differently for each of its years, is not read).
"""

from __future__ import annotations

from pathlib import Path

from train.datasets.clip import Clip
from train.datasets.song_tables import read_song_tables
from train.datasets.tables import find_optional_path, find_path

SOURCE = "deam"
STATIC_TABLES = ("static_annotations_averaged_songs_1_2000.csv", "static_annotations_averaged_songs_2000_2058.csv")


def read_deam(root: str | Path, dynamic: bool = True) -> list[Clip]:
    """All DEAM songs below ``root`` as clips with static (and, if ``dynamic``, 2 Hz dynamic) labels.

    Raises:
        DatasetError: a required file is missing or ambiguous, a row is malformed, a label is out of range
            or a song's audio is missing (naming the file and line).
    """
    root = Path(root)
    later_songs = find_optional_path(root, STATIC_TABLES[1])
    static_paths = [find_path(root, STATIC_TABLES[0])] + ([later_songs] if later_songs is not None else [])
    dynamic_paths = (find_path(root, "valence.csv"), find_path(root, "arousal.csv")) if dynamic else None
    return read_song_tables(
        SOURCE,
        static_paths,
        id_column="song_id",
        valence_column="valence_mean",
        arousal_column="arousal_mean",
        dynamic_paths=dynamic_paths,
        audio_dir=find_path(root, "MEMD_audio", is_dir=True),
    )
