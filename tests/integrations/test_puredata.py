"""``damer stream`` received by real Pure Data (``pd -nogui``): the raw messages as ``[oscparse]`` decodes
them, and the values the example patch ``examples/puredata/damer.pd`` shows, compared with the run's own log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integrations.puredata import PD, PdCannotStart, PureData, parse_pd, ready_probe, receive_name
from tests.streamer.conftest import music_signal
from tests.streamer.osc_receivers import free_udp_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "puredata" / "damer.pd"

# [print] shows floats with 6 significant digits (%g): at most half a unit of the 6th digit away.
PRINT_RTOL = 5e-6

NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")

PROBLEMS = ("error", "couldn't create", "connection failed", "bad ", "warning", "oscparse:")


@pytest.fixture(scope="module")
def pd_starts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip (with the reason printed) where Pd is missing or cannot start at all."""
    if PD is None:
        pytest.skip("Pure Data is not installed (Debian puredata-core: 'make test' installs it)")
    try:
        PureData([ready_probe(tmp_path_factory.mktemp("pd") / "ready.pd")]).close()
    except PdCannotStart as exc:
        pytest.skip(f"Pure Data cannot start here: {exc}")


def raw_probe(path: Path, port: int) -> Path:
    """A patch printing every message of every packet on ``port`` as ``OSC: damer va 0.1 0.2``."""
    path.write_text(
        "#N canvas 0 50 450 300 12;\n"
        f"#X obj 20 20 netreceive -u -b {port};\n"
        "#X obj 20 50 oscparse;\n"
        "#X obj 20 80 list trim;\n"
        "#X obj 20 110 print OSC;\n"
        "#X connect 0 0 1 0;\n#X connect 1 0 2 0;\n#X connect 2 0 3 0;\n"
    )
    return path


SENDS = ("damer-valence", "damer-arousal", "damer-valence-p-high", "damer-arousal-p-high", "damer-time", "damer-dot")


def sends_probe(path: Path) -> Path:
    """A patch printing what the example patch sends to each of :data:`SENDS`, as ``damer-valence: 0.1``."""
    lines = ["#N canvas 0 50 450 300 12;"]
    for i, name in enumerate(SENDS):
        lines += [f"#X obj 20 {20 + 60 * i} r {name};", f"#X obj 20 {50 + 60 * i} print {name};"]
    lines += [f"#X connect {2 * i} 0 {2 * i + 1} 0;" for i in range(len(SENDS))]
    path.write_text("\n".join(lines) + "\n")
    return path


def stream(bundle_path: Path, wav: Path, port: int, log: Path) -> np.ndarray:
    """Run ``damer stream`` on ``wav`` as fast as it goes to 127.0.0.1:``port``; its CSV log as a record array."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "damer_core.cli",
            "stream",
            "--input",
            str(wav),
            "--pace",
            "fast",
            "--osc",
            f"127.0.0.1:{port}",
            "--model",
            str(bundle_path),
            "--log",
            str(log),
            "--no-meter",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    table = np.genfromtxt(log, delimiter=",", names=True)
    assert f"OSC 127.0.0.1:{port}: {table.size} of {table.size} bundles sent\n" in result.stdout
    return table


def f32(values: np.ndarray) -> np.ndarray:
    """What the log's numbers become as OSC float32 arguments."""
    return values.astype(np.float32).astype(np.float64)


def split_message(line: str) -> tuple[str, list[float]]:
    """``"damer valence p_high 0.75"`` -> ``("damer valence p_high", [0.75])``."""
    words = line.split()
    numbers = 0
    while numbers < len(words) and NUMBER.fullmatch(words[-1 - numbers]):
        numbers += 1
    return " ".join(words[: len(words) - numbers]), [float(w) for w in words[len(words) - numbers :]]


def assert_quiet(pd: PureData) -> None:
    """Nothing Pd printed is an error or a warning (failed creations and connections included)."""
    problems = [line for line in pd.log if any(word in line.lower() for word in PROBLEMS)]
    assert not problems, problems


def test_pd_oscparse_receives_every_message_in_order_with_its_values(
    pd_starts, bundle_path: Path, write_wav, tmp_path: Path
) -> None:
    port = free_udp_port()
    pd = PureData([raw_probe(tmp_path / "probe.pd", port), ready_probe(tmp_path / "ready.pd")])
    try:
        log = stream(bundle_path, write_wav("music.wav", music_signal(2.0, 22050), 22050), port, tmp_path / "log.csv")
        n = log.size
        received = [split_message(line) for line in pd.take("OSC: ", 6 * n)]
        assert pd.drain() == []  # nothing more than one bundle per logged update
        assert_quiet(pd)
    finally:
        pd.close()
    assert n > 80
    # [oscparse] unpacks each bundle into its six messages, in the bundle's order, the address split at '/'.
    assert [address for address, _ in received] == [
        "damer va",
        "damer valence",
        "damer arousal",
        "damer valence p_high",
        "damer arousal p_high",
        "damer time",
    ] * n
    got = np.array([value for _, values in received for value in values]).reshape(n, 7)
    want = np.stack(
        [log["valence"], log["arousal"], log["valence"], log["arousal"], log["p_high_valence"], log["p_high_arousal"]],
        axis=1,
    )
    np.testing.assert_allclose(got[:, :6], f32(want), rtol=PRINT_RTOL, atol=0)
    np.testing.assert_allclose(got[:, 6], f32(log["time"]), rtol=PRINT_RTOL, atol=1e-6)  # the log keeps 6 decimals


def test_example_patch_shows_the_streamed_values(pd_starts, bundle_path: Path, write_wav, tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    assert text.count("netreceive -u -b 9000;") == 1  # the documented default port
    port = free_udp_port()
    example = tmp_path / "damer.pd"
    example.write_text(text.replace("netreceive -u -b 9000;", f"netreceive -u -b {port};"))
    pd = PureData([example, sends_probe(tmp_path / "sends.pd"), ready_probe(tmp_path / "ready.pd")])
    try:
        log = stream(bundle_path, write_wav("music.wav", music_signal(1.5, 22050), 22050), port, tmp_path / "log.csv")
        n = log.size
        received = [line.split(": ", 1) for line in pd.take("damer-", 6 * n)]
        assert pd.drain() == []
        assert_quiet(pd)
    finally:
        pd.close()
    # Per update the pad's dot moves first (/damer/va leads the bundle), then the five single values.
    assert [name for name, _ in received] == [
        "dot",
        "valence",
        "arousal",
        "valence-p-high",
        "arousal-p-high",
        "time",
    ] * n
    assert all(value.startswith("pos ") for _, value in received[::6])
    dots = np.array([value.split()[1:] for _, value in received[::6]], dtype=float)
    singles = np.array([float(value) for i, (_, value) in enumerate(received) if i % 6]).reshape(n, 5)
    want = np.stack([log["valence"], log["arousal"], log["p_high_valence"], log["p_high_arousal"]], axis=1)
    np.testing.assert_allclose(singles[:, :4], f32(want), rtol=PRINT_RTOL, atol=0)
    np.testing.assert_allclose(singles[:, 4], f32(log["time"]), rtol=PRINT_RTOL, atol=1e-6)

    # The dot spans the pad: valence -1..1 from its left to its right edge, arousal -1..1 from bottom to top.
    canvases = [b for b in parse_pd(text).boxes if b.name == "cnv"]
    dot = next(b for b in canvases if receive_name(b) == "damer-dot")
    pad = max(canvases, key=lambda b: int(b.atoms[2]) * int(b.atoms[3]))
    dot_size, pad_width, pad_height = int(dot.atoms[2]), int(pad.atoms[2]), int(pad.atoms[3])
    x = pad.x + (f32(log["valence"]) + 1) / 2 * (pad_width - dot_size)
    y = pad.y + (1 - f32(log["arousal"])) / 2 * (pad_height - dot_size)
    np.testing.assert_allclose(dots, np.stack([x, y], axis=1), atol=1e-3)  # pixels, printed with 6 digits
