"""Reader for a folder of unlabelled audio (for pseudo-labelling): every ``.wav``, ``.flac``, ``.ogg``,
``.opus`` and ``.mp3`` file below it, recursively (extensions compared case-insensitively; hidden files
and folders skipped). Clips have ``NaN`` valence and arousal; ``track_id`` and ``group`` are the path
relative to the folder, with ``/`` separators.
"""

from __future__ import annotations

from pathlib import Path

from train.datasets.clip import Clip
from train.errors import WHERE_DATA_IS, DatasetError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")


def read_audio_folder(root: str | Path, source: str = "unlabelled") -> list[Clip]:
    """Unlabelled clips for every audio file below ``root``, sorted by relative path.

    Raises:
        DatasetError: ``root`` is not a folder or holds no audio file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: audio folder not found ({WHERE_DATA_IS})")
    files = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not files:
        raise DatasetError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) below this folder")
    return [Clip(track_id=name, source=source, group=name, audio_path=root / name) for name in files]
