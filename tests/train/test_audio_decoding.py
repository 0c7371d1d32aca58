"""train.audio.load_audio: downmix, resampling against the analytic signal, errors naming the file."""

import numpy as np
import pytest
import soundfile

from damer_core.errors import AudioError
from train.audio import load_audio


def sine(frequency: float, sample_rate: int, n: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(n) / sample_rate)


def test_channels_are_averaged_exactly_at_the_native_rate(tmp_path):
    left = sine(440, 22050, 4000)
    right = 0.5 * sine(1000, 22050, 4000)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1).astype(np.float32), 22050, subtype="FLOAT")
    mono = load_audio(tmp_path / "stereo.wav", 22050)
    assert mono.dtype == np.float32 and mono.shape == (4000,)
    np.testing.assert_allclose(mono, (left.astype(np.float32) + right.astype(np.float32)) / 2, atol=1e-7)


@pytest.mark.parametrize("file_rate, tolerance", [(32000, 2e-4), (44100, 2e-4), (16000, 1e-3)])
def test_resampled_sine_matches_the_analytic_sine(tmp_path, file_rate, tolerance):
    soundfile.write(
        tmp_path / "tone.wav", sine(1000, file_rate, file_rate).astype(np.float32), file_rate, subtype="FLOAT"
    )
    audio = load_audio(tmp_path / "tone.wav", 22050)
    assert audio.shape == (22050,)
    reference = sine(1000, 22050, 22050)
    # Away from the edges, where the windowed-sinc filter sees zero padding instead of signal.
    assert np.max(np.abs(audio - reference)[200:-200]) < tolerance


def test_mp3_decodes_to_the_written_tone(tmp_path):
    soundfile.write(tmp_path / "tone.mp3", sine(1000, 44100, 44100).astype(np.float32), 44100)
    audio = load_audio(tmp_path / "tone.mp3", 22050)
    spectrum = np.abs(np.fft.rfft(audio[2048 : 2048 + 16384] * np.hanning(16384)))
    assert np.fft.rfftfreq(16384, 1 / 22050)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)


def test_corrupt_missing_and_empty_files_raise_audio_error_naming_the_file(tmp_path):
    (tmp_path / "corrupt.mp3").write_bytes(b"not audio at all" * 64)
    (tmp_path / "zero.wav").write_bytes(b"")
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 1), dtype=np.float32), 22050)
    for name in ("corrupt.mp3", "zero.wav", "empty.wav", "missing.flac"):
        with pytest.raises(AudioError, match=name):
            load_audio(tmp_path / name, 22050)


def test_non_finite_samples_raise(tmp_path):
    samples = sine(440, 22050, 1000).astype(np.float32)
    samples[10] = np.nan
    soundfile.write(tmp_path / "nan.wav", samples, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="non-finite"):
        load_audio(tmp_path / "nan.wav", 22050)
