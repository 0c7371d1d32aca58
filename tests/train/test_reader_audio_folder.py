"""Unlabelled audio folder reader."""

import math

import pytest

from damer_core.errors import ConfigError
from train.datasets import read_dataset
from train.datasets.audio_folder import read_audio_folder
from train.errors import DatasetError


def test_recursive_audio_files_sorted_unlabelled(tmp_path, write_audio):
    for name in ("b/track.ogg", "a.FLAC", "c/d/e.mp3", "z.wav"):
        write_audio(tmp_path / name, seconds=0.1)
    (tmp_path / "notes.txt").write_text("not audio")
    write_audio(tmp_path / ".hidden" / "skip.wav", seconds=0.1)
    clips = read_audio_folder(tmp_path, source="debian-music")
    assert [c.track_id for c in clips] == ["a.FLAC", "b/track.ogg", "c/d/e.mp3", "z.wav"]
    assert all(math.isnan(c.valence) and math.isnan(c.arousal) and not c.is_labelled for c in clips)
    assert clips[1].audio_path == tmp_path / "b" / "track.ogg" and clips[1].source == "debian-music"
    assert clips[1].quadrant is None


def test_empty_or_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no audio files"):
        read_audio_folder(tmp_path)
    with pytest.raises(DatasetError, match="audio folder not found"):
        read_audio_folder(tmp_path / "absent")


def test_read_dataset_dispatches_by_kind_and_rejects_unknown_kinds(tmp_path, write_audio):
    write_audio(tmp_path / "a.ogg", seconds=0.1)
    (clip,) = read_dataset("folder", tmp_path, source="pcl")
    assert clip.source == "pcl" and clip.track_id == "a.ogg"
    with pytest.raises(ConfigError, match="dataset kind: must be one of memo2496, deam"):
        read_dataset("mp3s", tmp_path)
