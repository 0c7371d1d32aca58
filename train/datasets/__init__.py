"""Dataset readers: each turns a dataset as released into a list of :class:`Clip` records with valence
and arousal in [-1, 1] (its docstring says how its labels are mapped).

:func:`read_dataset` picks a reader by name, for configs: ``memo2496``, ``deam``, ``pmemo``, ``emomusic``,
``4q``, ``csv`` (the project's own table format, also written by the synthetic corpus) and ``folder``
(unlabelled audio).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from damer_core.errors import ConfigError
from train.datasets.audio_folder import read_audio_folder
from train.datasets.clip import Clip, ClipFeatures, DynamicLabels
from train.datasets.deam import read_deam
from train.datasets.emomusic import read_emomusic
from train.datasets.four_q import read_four_q
from train.datasets.labelled_csv import read_labelled_csv
from train.datasets.memo2496 import MEMO2496_SPEC, read_memo2496
from train.datasets.pmemo import read_pmemo
from train.datasets.split import group_folds, group_split

READERS: dict[str, Callable[..., list[Clip]]] = {
    "memo2496": read_memo2496,
    "deam": read_deam,
    "pmemo": read_pmemo,
    "emomusic": read_emomusic,
    "4q": read_four_q,
    "csv": read_labelled_csv,
    "folder": read_audio_folder,
}


def read_dataset(kind: str, path: str | Path, **options: Any) -> list[Clip]:
    """Read the dataset at ``path`` with the reader named ``kind`` (keys of :data:`READERS`), passing
    ``options`` (e.g. ``dynamic=False``, ``source="synthetic"``, ``tag_magnitude=0.5``) to it.

    Raises:
        ConfigError: unknown ``kind``.
        DatasetError: as the reader.
    """
    if kind not in READERS:
        raise ConfigError(f"dataset kind: must be one of {', '.join(READERS)}, got {kind!r}")
    return READERS[kind](path, **options)


__all__ = [
    "MEMO2496_SPEC",
    "READERS",
    "Clip",
    "ClipFeatures",
    "DynamicLabels",
    "group_folds",
    "group_split",
    "read_dataset",
]
