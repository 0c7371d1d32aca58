"""Convert musicnn's MSD_musicnn TensorFlow checkpoint to the package's safetensors, and write the parity fixture.

Run once, in an environment with the ``convert`` extra and the musicnn wheel (ISC licence). The wheel pins
``numpy<1.17``, which no current TensorFlow accepts, so it is installed without its dependencies::

    pip install -e '.[convert]'
    pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 python -m train.convert_musicnn

Writes:

* ``damer_core/models/musicnn_msd.safetensors``: the weights under the parameter names of
  :class:`damer_core.musicnn.Musicnn` (kernels transposed to PyTorch's layouts), float32 by default;
* ``tests/damer_core/fixtures/musicnn_parity.npz``: log-Mel patches of a seeded synthetic signal and the
  TensorFlow model's outputs for them (``taggram``, ``penultimate``, ``max_pool``, ``mean_pool``, for a
  batch of 187-frame patches and for one 61-frame patch), plus one second of that signal at 16 kHz with
  librosa's log-Mel of it (left-aligned frames), so that the port and its front-end are checked without
  TensorFlow.

The TensorFlow reference is the wheel's own graph (``musicnn.models.define_model``) restored from its
checkpoint, evaluated with ``is_training=False`` on float32 input (the wheel's ``batch_data`` computes the
Mel in float16, which overflows on loud audio, so it is not used).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = REPO / "damer_core" / "models" / "musicnn_msd.safetensors"
DEFAULT_FIXTURE = REPO / "tests" / "damer_core" / "fixtures" / "musicnn_parity.npz"

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
SHORT_FRAMES = 61

# TensorFlow layer name -> PyTorch module name, in the order the wheel's graph creates them.
_BATCH_NORMS = {
    "batch_normalization": "input_norm",
    "batch_normalization_1": "timbral.0.norm",
    "batch_normalization_2": "timbral.1.norm",
    "batch_normalization_3": "temporal.0.norm",
    "batch_normalization_4": "temporal.1.norm",
    "batch_normalization_5": "temporal.2.norm",
    "batch_normalization_6": "midend.0.norm",
    "batch_normalization_7": "midend.1.norm",
    "batch_normalization_8": "midend.2.norm",
    "batch_normalization_9": "pool_norm",
    "batch_normalization_10": "dense_norm",
}
_FREQUENCY_CONVS = {
    "conv2d": "timbral.0.conv",
    "conv2d_1": "timbral.1.conv",
    "conv2d_2": "temporal.0.conv",
    "conv2d_3": "temporal.1.conv",
    "conv2d_4": "temporal.2.conv",
}
_TIME_CONVS = {"conv2d_5": "midend.0.conv", "conv2d_6": "midend.1.conv", "conv2d_7": "midend.2.conv"}
_DENSE = {"dense": "dense", "dense_1": "classifier"}
_BN_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def checkpoint_prefix() -> str:
    """Checkpoint prefix of MSD_musicnn inside the installed musicnn wheel."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or spec.origin is None:
        raise SystemExit("convert_musicnn: the musicnn wheel is not installed (pip install --no-deps musicnn==0.1.0)")
    return str(Path(spec.origin).parent / "MSD_musicnn") + "/"


def torch_state(reader) -> dict[str, np.ndarray]:
    """Map the checkpoint's inference variables to PyTorch names and layouts (float32).

    TensorFlow conv kernels are ``(time, freq, in, out)``: frequency-pooled 2-D convs become
    ``(out, in, time, freq)``; the mid-end convs, whose "freq" axis spans all input channels with one
    TensorFlow input channel, become Conv1d ``(out, channels, time)``. Dense kernels ``(in, out)`` become
    ``(out, in)``.
    """

    def get(name: str) -> np.ndarray:
        return np.asarray(reader.get_tensor(name), dtype=np.float32)

    state: dict[str, np.ndarray] = {}
    for tf_name, name in _BATCH_NORMS.items():
        for tf_field, field in _BN_FIELDS.items():
            state[f"{name}.{field}"] = get(f"{tf_name}/{tf_field}")
    for tf_name, name in _FREQUENCY_CONVS.items():
        state[f"{name}.weight"] = get(f"{tf_name}/kernel").transpose(3, 2, 0, 1)
        state[f"{name}.bias"] = get(f"{tf_name}/bias")
    for tf_name, name in _TIME_CONVS.items():
        state[f"{name}.weight"] = get(f"{tf_name}/kernel")[:, :, 0, :].transpose(2, 1, 0)
        state[f"{name}.bias"] = get(f"{tf_name}/bias")
    for tf_name, name in _DENSE.items():
        state[f"{name}.weight"] = get(f"{tf_name}/kernel").T
        state[f"{name}.bias"] = get(f"{tf_name}/bias")
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def synthetic_music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A seeded, music-like 16 kHz test signal: four sections of equal length — chords, drums with a bass
    line, a quiet pad, and a loud clipped lead — so that the fixture spans quiet to full-scale input."""
    n = int(seconds * SAMPLE_RATE)
    section = n // 4
    t = np.arange(section) / SAMPLE_RATE

    def notes(midi: np.ndarray, length: float, harmonics: int, level: float) -> np.ndarray:
        out = np.zeros(section)
        step = int(length * SAMPLE_RATE)
        for i, start in enumerate(range(0, section, step)):
            seg = t[: min(step, section - start)]
            f0 = 440.0 * 2 ** ((midi[i % midi.size] - 69) / 12)
            tone = sum(
                np.sin(2 * np.pi * f0 * k * seg + rng.uniform(0, 2 * np.pi)) / k for k in range(1, harmonics + 1)
            )
            out[start : start + seg.size] = level * tone * np.exp(-seg * 3.0) * np.minimum(1.0, seg * 200)
        return out

    chords = sum(notes(rng.integers(48, 84, 8), 0.5, 6, 0.15) for _ in range(3))
    beat = np.zeros(section)
    for start in range(0, section, SAMPLE_RATE // 4):
        seg = t[: min(SAMPLE_RATE // 4, section - start)]
        hit = (
            rng.normal(size=seg.size) * np.exp(-seg * 40) * 0.3
            + np.sin(2 * np.pi * (120 - 200 * seg) * seg) * np.exp(-seg * 15) * 0.6
        )
        beat[start : start + seg.size] = hit
    drums = beat + notes(rng.integers(33, 45, 8), 0.25, 3, 0.3)
    pad = 0.01 * notes(rng.integers(55, 72, 4), 1.0, 4, 1.0) + 1e-4 * rng.normal(size=section)
    lead = np.clip(3.0 * notes(rng.integers(60, 90, 16), 0.125, 9, 1.0) + 0.5 * rng.normal(size=section), -1.0, 1.0)
    return np.concatenate([chords, drums, pad, lead]).astype(np.float32)


def librosa_log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's log-Mel as its pipeline computes it, but in float32 and with left-aligned frames: ``(T, 96)``."""
    import librosa

    power = librosa.feature.melspectrogram(
        y=audio, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=False
    )
    return np.log10(10000.0 * power.T.astype(np.float32) + 1.0).astype(np.float32)


def tensorflow_outputs(prefix: str, patches: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Run the wheel's MSD_musicnn graph on each ``(B, T, 96)`` float32 batch."""
    import tensorflow as tf
    from musicnn import models

    warnings.filterwarnings("ignore", category=UserWarning, module="musicnn")  # tf.compat.v1.layers deprecations
    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, mean_pool, max_pool, penultimate = models.define_model(x, is_training, "MSD_musicnn", 50)
        fetches = {
            "taggram": tf.nn.sigmoid(logits),
            "penultimate": penultimate,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }
        with tf.compat.v1.Session(graph=graph) as session:
            tf.compat.v1.train.Saver().restore(session, prefix)
            return [session.run(fetches, feed_dict={x: batch, is_training: False}) for batch in patches]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="safetensors file to write")
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE, help="parity fixture (.npz) to write")
    parser.add_argument(
        "--dtype", choices=("float32", "float16"), default="float32", help="storage dtype of the weights"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the wheel's graph uses tf.compat.v1.layers
    try:
        import tensorflow as tf
    except ModuleNotFoundError:
        raise SystemExit("convert_musicnn: TensorFlow is not installed (pip install -e '.[convert]')") from None
    from safetensors.numpy import save_file

    prefix = checkpoint_prefix()
    state = torch_state(tf.compat.v1.train.NewCheckpointReader(prefix))
    args.weights.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"source": "musicnn 0.1.0 MSD_musicnn (Pons & Serra, 2019)", "licence": "ISC"}
    save_file({name: value.astype(args.dtype) for name, value in state.items()}, str(args.weights), metadata=metadata)

    rng = np.random.default_rng(20190704)
    audio = synthetic_music(4 * PATCH_FRAMES * HOP / SAMPLE_RATE + 1.0, rng)
    log_mel = librosa_log_mel(audio)
    section = log_mel.shape[0] // 4
    patches = np.stack([log_mel[i * section : i * section + PATCH_FRAMES] for i in range(4)])
    short = log_mel[None, section // 2 : section // 2 + SHORT_FRAMES]
    full, partial = tensorflow_outputs(prefix, [patches, short])
    front_audio = audio[section * HOP : section * HOP + SAMPLE_RATE]

    arrays = {"mel": patches, "mel_short": np.ascontiguousarray(short)}
    arrays.update({key: value.astype(np.float32) for key, value in full.items()})
    arrays.update({f"{key}_short": value.astype(np.float32) for key, value in partial.items()})
    arrays.update({"audio_16k": front_audio, "librosa_log_mel": librosa_log_mel(front_audio)})
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.fixture, **arrays)
    print(
        f"wrote {args.weights} ({args.weights.stat().st_size} bytes, {args.dtype}) "
        f"and {args.fixture} ({args.fixture.stat().st_size} bytes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
