"""Reader for EmoMusic, the "1000 songs for emotional analysis of music" (Soleymani et al. 2013; 744 songs
after removing duplicates).

Files used, found by name anywhere below the dataset folder:

- ``static_annotations.csv``: ``song_id,mean_arousal,std_arousal,mean_valence,std_valence``, means on the
  1..9 scale.
- ``valence_cont_average.csv`` and ``arousal_cont_average.csv``: ``song_id,sample_15000ms,...,
  sample_44500ms`` at 2 Hz, values in [-1, 1].
- ``clips_45seconds/<song_id>.mp3``.

Label mapping: static ``(x - 5) / 4``; dynamic values unchanged at the times of their column names
(``sample_15000ms`` -> 15.0 s from the start of the 45 s clip). Groups are song ids (splits by track).
"""

from __future__ import annotations

from pathlib import Path

from train.datasets.clip import Clip
from train.datasets.song_tables import read_song_tables
from train.datasets.tables import find_path

SOURCE = "emomusic"


def read_emomusic(root: str | Path, dynamic: bool = True) -> list[Clip]:
    """All EmoMusic songs below ``root`` as clips with static (and, if ``dynamic``, 2 Hz dynamic) labels.

    Raises:
        DatasetError: a required file is missing or ambiguous, a row is malformed, a label is out of range
            or a song's audio is missing (naming the file and line).
    """
    root = Path(root)
    dynamic_paths = (
        (find_path(root, "valence_cont_average.csv"), find_path(root, "arousal_cont_average.csv")) if dynamic else None
    )
    return read_song_tables(
        SOURCE,
        [find_path(root, "static_annotations.csv")],
        id_column="song_id",
        valence_column="mean_valence",
        arousal_column="mean_arousal",
        dynamic_paths=dynamic_paths,
        audio_dir=find_path(root, "clips_45seconds", is_dir=True),
    )
