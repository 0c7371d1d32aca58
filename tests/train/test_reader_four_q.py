"""4Q reader on a generated fixture in the dataset's CSV formats (quoted metadata, CRLF annotations)."""

import math
from pathlib import Path

import numpy as np
import pytest

from damer_core.errors import ConfigError
from train.datasets.four_q import axis_magnitude, read_four_q
from train.errors import DatasetError

METADATA_HEADER = (
    '"Song","Artist","Title","Quadrant","PQuad","MoodsTotal","Moods","MoodsFoundStr","MoodsStr","MoodsStrSplit",'
    '"Genres","GenresStr","Sample","SampleURL"\r\n'
)
SONGS = [
    ("MT01", "The  Band", "Q1", "1"),
    ("MT02", "Solo", "Q2", "0.75"),
    ("MT03", "the band", "Q3", "0.6"),
    ("MT04", "Other", "Q4", "0.52"),
]


def metadata_row(song: str, artist: str, quadrant: str, p_quad: str) -> str:
    return (
        f'"{song}","{artist}","A Title, with comma","{quadrant}","{p_quad}","3","3","calm; warm","Calm; Warm",'
        f'"Calm; Warm","1","Jazz","1","http://example.invalid/{song}"\r\n'
    )


def write_four_q(root: Path, write_audio, songs=SONGS, annotations=None, skip_audio=()) -> Path:
    root.mkdir(exist_ok=True)
    (root / "panda_dataset_taffc_metadata.csv").write_text(
        METADATA_HEADER + "".join(metadata_row(*s) for s in songs), newline=""
    )
    rows = annotations if annotations is not None else [(s[0], s[2]) for s in songs]
    (root / "panda_dataset_taffc_annotations.csv").write_text(
        "Song,Quadrant\r\n" + "".join(f"{s},{q}\r\n" for s, q in rows), newline=""
    )
    for song, _, quadrant, _ in songs:
        if song not in skip_audio:
            write_audio(root / quadrant / f"{song}.mp3", seconds=0.2, sample_rate=32000)
    return root


def test_quadrants_give_signs_and_pquad_gives_magnitude(tmp_path, write_audio):
    clips = read_four_q(write_four_q(tmp_path, write_audio))
    va = np.array([(c.valence, c.arousal) for c in clips])
    # m = 0.75 * (4p - 1) / 3: p=1 -> 0.75, p=0.75 -> 0.5, p=0.6 -> 0.35, p=0.52 -> 0.27.
    expected = np.array([[0.75, 0.75], [-0.5, 0.5], [-0.35, -0.35], [0.27, -0.27]])
    np.testing.assert_allclose(va, expected, atol=1e-12)
    assert [c.quadrant for c in clips] == [1, 2, 3, 4]
    assert [c.confidence for c in clips] == [1.0, 0.75, 0.6, 0.52]
    assert clips[1].audio_path == tmp_path / "Q2" / "MT02.mp3"


def test_artists_are_groups_after_case_and_space_folding(tmp_path, write_audio):
    clips = read_four_q(write_four_q(tmp_path, write_audio))
    assert [c.group for c in clips] == ["the band", "solo", "the band", "other"]


def test_tag_magnitude_scales_targets(tmp_path, write_audio):
    clips = read_four_q(write_four_q(tmp_path, write_audio), tag_magnitude=1.0)
    assert clips[0].valence == 1.0 and clips[1].arousal == pytest.approx(2 / 3)
    assert axis_magnitude(0.25) == 0.0 and math.isclose(axis_magnitude(1.0, 0.5), 0.5)
    with pytest.raises(ConfigError, match="tag_magnitude"):
        read_four_q(tmp_path, tag_magnitude=1.5)


@pytest.mark.parametrize(
    "songs, annotations, skip_audio, message",
    [
        (SONGS, None, ("MT03",), r"panda_dataset_taffc_metadata.csv:4: audio file .*Q3/MT03.mp3 not found"),
        (
            SONGS[:1] + [("MT02", "Solo", "Q5", "0.75")],
            [("MT01", "Q1"), ("MT02", "Q2")],
            (),
            r"metadata.csv:3: column 'Quadrant': expected Q1, Q2, Q3 or Q4, got 'Q5'",
        ),
        (
            SONGS[:1] + [("MT02", "Solo", "Q2", "0.2")],
            None,
            (),
            r"metadata.csv:3: column 'PQuad': 0.2 is outside \(0.25, 1\]",
        ),
        (SONGS[:1] + [("MT02", "", "Q2", "0.7")], None, (), r"metadata.csv:3: column 'Artist' is empty"),
        (
            SONGS[:2],
            [("MT01", "Q1"), ("MT02", "Q3")],
            (),
            r"metadata.csv:3: song 'MT02' is Q2 here but Q3 in panda_dataset_taffc_annotations.csv line 3",
        ),
        (
            SONGS[:2],
            [("MT01", "Q1")],
            (),
            r"metadata.csv:3: song 'MT02' is missing from panda_dataset_taffc_annotations.csv",
        ),
        (
            SONGS[:1],
            [("MT01", "Q1"), ("MT09", "Q2")],
            (),
            r"annotations.csv:3: song 'MT09' is missing from panda_dataset_taffc_metadata.csv",
        ),
    ],
)
def test_inconsistent_tables_and_missing_audio_name_file_and_line(
    tmp_path, write_audio, songs, annotations, skip_audio, message
):
    root = write_four_q(tmp_path, write_audio, songs=songs, annotations=annotations, skip_audio=skip_audio)
    with pytest.raises(DatasetError, match=message):
        read_four_q(root)


def test_real_dataset_when_present():
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "4q"
    if not root.is_dir():
        pytest.skip("the 4Q development clips are not on this machine")
    clips = read_four_q(root)
    assert len(clips) == 676
    assert {q: sum(c.quadrant == q for c in clips) for q in (1, 2, 3, 4)} == {1: 169, 2: 169, 3: 169, 4: 169}
    assert all(0.25 < abs(c.valence) <= 0.75 and abs(c.valence) == abs(c.arousal) for c in clips)
