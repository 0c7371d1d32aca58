"""bench/peers.py: scoring of both systems, label tables, the held-out clips of a bundle, and the whole script
against vibenet (only where the optional extra ``peers`` is installed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench import peers
from damer_core.config import to_mapping
from damer_core.errors import BundleError
from train.datasets import group_split, read_dataset
from train.errors import DatasetError
from train.recipe import DataConfig, SourceConfig, ValidationConfig

REPOSITORY = Path(__file__).resolve().parents[2]
NAN = math.nan


def test_score_counts_thresholds_quadrants_and_ranks_by_hand() -> None:
    # Clips in Q1, Q2, Q3, Q4 and one unlabelled clip that must be left out.
    target = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1], [NAN, NAN]], dtype=float)
    # damer in [-1, 1], "high" when > 0: clip 2's valence is wrong (so is its quadrant); 0.0 counts as low.
    damer = np.array([[0.5, 0.2], [0.45, 0.3], [-0.2, 0.0], [0.4, -0.6], [0.9, 0.9]])
    # vibenet in [0, 1], "high" when > 0.5: 0.5 counts as low, so clip 1's valence and clip 2's energy are wrong.
    vibenet = np.array([[0.5, 0.9], [0.2, 0.5], [0.3, 0.2], [0.8, 0.5], [0.9, 0.9]])
    result = peers.score(target, damer, vibenet)
    expected = {
        "damer_acc_valence": 0.75,
        "damer_acc_arousal": 1.0,
        "damer_acc_quadrant": 0.75,
        # high valence {0.5, 0.4} vs low {0.45, -0.2}: 3 of 4 pairs ordered right.
        "damer_auc_valence": 0.75,
        "damer_auc_arousal": 1.0,
        "vibenet_acc_valence": 0.75,
        "vibenet_acc_arousal": 0.75,
        "vibenet_acc_quadrant": 0.5,
        "vibenet_auc_valence": 1.0,
        # high energy {0.9, 0.5} vs low {0.2, 0.5}: 3 pairs right and one tie counting one half.
        "vibenet_auc_arousal": 0.875,
        "n_scored": 4,
    }
    assert result == pytest.approx(expected, abs=1e-12)


def test_spearman_is_rank_correlation() -> None:
    assert peers.spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 8.0, 27.0, 64.0])) == pytest.approx(1.0)
    assert peers.spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.9, 0.5, 0.2, 0.1])) == pytest.approx(-1.0)
    # Ranks [1, 2, 3] against [1.5, 1.5, 3]: Pearson of the ranks = 0.866...
    assert peers.spearman(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 5.0])) == pytest.approx(math.sqrt(3) / 2)


def test_labels_from_4q_annotations_match_files_by_stem(tmp_path: Path) -> None:
    table = tmp_path / "annotations.csv"
    table.write_text("Song,Quadrant\r\nMT01,Q1\r\nMT02,Q2\r\nMT03,Q3\r\nMT04,Q4\r\n", newline="")
    files = [Path("a/Q4/MT04.mp3"), Path("b/MT02.wav"), Path("c/unknown.wav")]
    np.testing.assert_array_equal(peers.read_labels(table, files), [[1, -1], [-1, 1], [NAN, NAN]])


def test_labels_from_value_table_and_their_errors(tmp_path: Path) -> None:
    table = tmp_path / "labels.csv"
    table.write_text("file,valence,arousal\n/some/where/a.wav,0.5,-0.25\nb.flac,-1,1\n")
    np.testing.assert_array_equal(peers.read_labels(table, [Path("x/b.mp3"), Path("a.ogg")]), [[-1, 1], [0.5, -0.25]])
    table.write_text("file,valence,arousal\na.wav,1.5,0\n")
    with pytest.raises(DatasetError, match=r"labels.csv:2: .*valence"):
        peers.read_labels(table, [Path("a.wav")])
    table.write_text("file,valence,arousal\na.wav,0,0\nother/a.mp3,0,0\n")
    with pytest.raises(DatasetError, match=r"labels.csv:3: 'a' is labelled again \(first at line 2\)"):
        peers.read_labels(table, [Path("a.wav")])
    table.write_text("name,score\na,1\n")
    with pytest.raises(DatasetError, match="expected columns"):
        peers.read_labels(table, [Path("a.wav")])


def write_four_q(root: Path) -> None:
    """Eight clips by four artists, two quadrants each; the audio files only need to exist."""
    songs = [("S1", "A", "Q1"), ("S2", "A", "Q2"), ("S3", "B", "Q3"), ("S4", "B", "Q4"),
             ("S5", "C", "Q1"), ("S6", "C", "Q3"), ("S7", "D", "Q2"), ("S8", "D", "Q4")]  # fmt: skip
    metadata = "Song,Artist,Quadrant,PQuad\n" + "".join(f"{s},{a},{q},0.8\n" for s, a, q in songs)
    (root / "panda_dataset_taffc_metadata.csv").write_text(metadata)
    (root / "panda_dataset_taffc_annotations.csv").write_text(
        "Song,Quadrant\n" + "".join(f"{s},{q}\n" for s, _, q in songs)
    )
    for song, _, quadrant in songs:
        (root / quadrant).mkdir(exist_ok=True)
        (root / quadrant / f"{song}.mp3").touch()


def card_for(root: Path, validation_clips: int) -> dict:
    data = DataConfig(
        sources=(SourceConfig(kind="4q", path=str(root)),),
        validation=ValidationConfig(source="4q", fraction=0.5, seed=3),
    )
    return {"recipe": {"data": to_mapping(data)}, "data": [{"name": "4q", "validation_clips": validation_clips}]}


def test_holdout_from_card_gives_the_validation_artists_with_quadrant_signs(tmp_path: Path) -> None:
    write_four_q(tmp_path)
    trained, held_out = group_split(read_dataset("4q", tmp_path), 0.5, seed=3)
    files, targets = peers.holdout_from_card(card_for(tmp_path, len(held_out)), "bundle")
    assert files == [clip.audio_path for clip in held_out] and 0 < len(files) < 8
    assert not {c.group for c in trained} & {c.group for c in held_out}
    signs = {"Q1": [1, 1], "Q2": [-1, 1], "Q3": [-1, -1], "Q4": [1, -1]}
    np.testing.assert_array_equal(np.sign(targets), [signs[f.parent.name] for f in files])


def test_holdout_from_card_refuses_changed_data_and_cards_without_a_split(tmp_path: Path) -> None:
    write_four_q(tmp_path)
    with pytest.raises(BundleError, match="records 7 validation clips of '4q'.*the data changed"):
        peers.holdout_from_card(card_for(tmp_path, 7), "bundle")
    with pytest.raises(BundleError, match="no training recipe"):
        peers.holdout_from_card({"training_data": "none"}, "bundle")
    card = card_for(tmp_path, 4)
    card["recipe"]["data"]["validation"]["source"] = None
    with pytest.raises(BundleError, match="without a held-out split"):
        peers.holdout_from_card(card, "bundle")


def test_holdout_from_card_gives_the_test_split_when_the_recipe_has_one(tmp_path: Path) -> None:
    write_four_q(tmp_path)
    tested = group_split(read_dataset("4q", tmp_path), 0.5, seed=0)[1]
    data = DataConfig(
        sources=(SourceConfig(kind="4q", path=str(tmp_path)),), test=ValidationConfig(source="4q", fraction=0.5, seed=0)
    )
    card = {
        "recipe": {"data": to_mapping(data)},
        "data": [{"name": "4q", "validation_clips": 0, "test_clips": len(tested)}],
    }
    files, _ = peers.holdout_from_card(card, "bundle")
    assert files == [clip.audio_path for clip in tested]
    card["data"][0]["test_clips"] = 1
    with pytest.raises(BundleError, match="records 1 test clips of '4q'"):
        peers.holdout_from_card(card, "bundle")


def test_missing_peer_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(peers, "vibenet_available", lambda: False)
    assert peers.main(["whatever.wav"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install -e '.[peers]'" in error


@pytest.mark.skipif(not peers.vibenet_available(), reason="vibenet is not installed (optional extra 'peers')")
def test_whole_script_on_two_generated_clips(bundle_path: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    t = np.arange(3 * 44100) / 44100
    loud = np.clip(0.3 * np.sign(np.sin(2 * np.pi * 2 * t)) * rng.standard_normal(t.size), -1, 1)  # pulsing noise
    soundfile.write(tmp_path / "loud.wav", loud.astype(np.float32), 44100)
    t = np.arange(3 * 22050) / 22050
    soundfile.write(tmp_path / "soft.flac", 0.1 * np.sin(2 * np.pi * 261.6 * t), 22050)
    (tmp_path / "labels.csv").write_text("file,valence,arousal\nloud.wav,-0.5,0.8\nsoft.flac,0.5,-0.8\n")
    out = tmp_path / "peers.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.peers", str(tmp_path), "--labels", str(tmp_path / "labels.csv"),
         "--model", str(bundle_path), "--json", str(out)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    numbers = json.loads(out.read_text())
    assert numbers["files"] == 2 and numbers["n_scored"] == 2 and numbers["audio_s"] == pytest.approx(6.0)
    assert numbers["damer_x_rt"] > 0 and numbers["vibenet_x_rt"] > 0
    assert numbers["speed_ratio"] == pytest.approx(numbers["damer_x_rt"] / numbers["vibenet_x_rt"])
    for system in peers.SYSTEMS:
        for dimension in ("arousal", "valence", "quadrant"):
            assert numbers[f"{system}_acc_{dimension}"] in (0.0, 0.5, 1.0)
        for dimension in ("arousal", "valence"):
            assert numbers[f"{system}_auc_{dimension}"] in (0.0, 0.5, 1.0)
    assert [Path(c["file"]).name for c in numbers["clips"]] == ["loud.wav", "soft.flac"]
    for clip in numbers["clips"]:
        assert 0.0 <= clip["vibenet_valence"] <= 1.0 and 0.0 <= clip["vibenet_energy"] <= 1.0
        assert -1.0 <= clip["damer_valence"] <= 1.0 and -1.0 <= clip["damer_arousal"] <= 1.0
    assert "throughput (x real time)" in result.stdout and "4-quadrant accuracy" in result.stdout
