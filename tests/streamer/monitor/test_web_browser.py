"""The monitor page and the web example in a real browser (headless Chromium) while ``damer stream`` plays
files in real time: the values they show against damer's own log, and the monitor finding the next stream on
the same port by itself. Screenshots are kept in ``out/test-artefacts/`` (and the test's own folder)."""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from tests.streamer.conftest import music_signal
from tests.streamer.monitor.browser import CHROMIUM, Browser
from tests.streamer.monitor.clients import DamerStream

ROOT = Path(__file__).resolve().parents[3]
ARTEFACTS = ROOT / "out" / "test-artefacts"
EXAMPLE = ROOT / "examples" / "web"

LOG_COLUMNS = {
    "valence": "valence",
    "arousal": "arousal",
    "p-high-valence": "p_high_valence",
    "p-high-arousal": "p_high_arousal",
}
"""Element id on the page -> column of the CSV log."""
SHOWN_IDS = ("time", *LOG_COLUMNS, "rate", "compute", "age", "input", "model")
SHOWN = "Object.fromEntries([{}].map((id) => [id, document.getElementById(id).textContent]))".format(
    ", ".join(json.dumps(i) for i in SHOWN_IDS)
)
VALENCE_RGB = np.array([244, 163, 64]) / 255  # --valence in monitor.css: the current point and the valence line

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian chromium: 'make test' installs it)"
)


def readings(browser: Browser, count: int, start_s: float = 2.5, step_s: float = 0.5) -> list[dict[str, str]]:
    """``count`` readings of what the page shows: the first once it shows ``start_s`` seconds of audio (the
    update rate is measured over 2 s), each further one once that has moved on by ``step_s``."""
    taken: list[dict[str, str]] = []
    after = start_s
    for _ in range(count):
        shown = browser.wait_for(f"(() => {{ const s = {SHOWN}; return parseFloat(s.time) >= {after} && s; }})()", 60)
        taken.append(shown)
        after = float(shown["time"].split()[0]) + step_s
    return taken


def check_against_log(taken: list[dict[str, str]], log: Path) -> None:
    """Each reading's time is an update's time (shown to 0.01 s), and its values (shown to 0.001) are those of
    that update or a neighbour."""
    table = np.genfromtxt(log, delimiter=",", names=True)
    for shown in taken:
        time = float(shown["time"].split()[0])
        k = int(np.argmin(np.abs(table["time"] - time)))
        assert abs(table["time"][k] - time) <= 0.005 + 1e-9, shown
        matches = [
            j
            for j in range(max(0, k - 1), min(table.size, k + 2))
            if all(abs(float(shown[i]) - table[c][j]) <= 0.0005 + 1e-6 for i, c in LOG_COLUMNS.items())
        ]
        assert matches, (shown, table[max(0, k - 1) : k + 2])
        assert 20.0 <= float(shown["rate"]) <= 60.0 and "ms p99" in shown["compute"] and shown["age"] != "–"


def keep(screenshot: Path, trace_colour: bool = True) -> Path:
    """Copy a screenshot to the artefacts folder and check that something is drawn: the monitor's current point
    (its colour; ``trace_colour``), or at least many pixels that are not black."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, ARTEFACTS / screenshot.name)
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    if trace_colour:
        assert np.count_nonzero(np.all(np.abs(pixels - VALENCE_RGB) < 0.02, axis=-1)) > 50, screenshot
    else:
        assert np.count_nonzero(pixels.max(axis=-1) > 0.2) > 2000, screenshot
    return screenshot


@pytest.mark.timeout(300)
def test_the_page_shows_what_the_log_says_and_follows_a_restart(bundle_path: Path, write_wav, tmp_path: Path) -> None:
    common = ["--pace", "realtime", "--no-osc", "--model", str(bundle_path)]
    first, second = (
        write_wav(f"{name}.wav", music_signal(seconds, 22050, seed), 22050)
        for name, seconds, seed in (("first", 8.0, 7), ("second", 6.0, 8))
    )
    # The first stream takes any free port (no other test can hold it); the second takes the same one, as a
    # show restarting its stream does.
    first_args = ["--input", str(first), "--log", str(tmp_path / "first.csv"), "--monitor", "127.0.0.1:0"]
    with DamerStream([*first_args, *common]) as damer:
        url = damer.wait_for(r"^monitor: (http://\S+) ")[1]
        port = int(re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", url)[1])
        common += ["--monitor", f"127.0.0.1:{port}"]
        browser = Browser(url, tmp_path / "profile")
        try:
            browser.wait_for("document.body.dataset.state === 'live'", 60)
            taken = readings(browser, 4)
            keep(browser.screenshot(tmp_path / "monitor-live.png"))
            assert damer.finish() == 0, damer.lines
            ended = "document.body.dataset.state === 'reconnecting' && document.getElementById('state').textContent"
            state = browser.wait_for(ended, 30)
            assert state == "stream ended (end of input); waiting for the next one"
            with DamerStream(["--input", str(second), "--log", str(tmp_path / "second.csv"), *common]) as again:
                shown = "document.getElementById('input').textContent.includes('second.wav')"
                browser.wait_for(f"document.body.dataset.state === 'live' && {shown}", 120)
                taken_again = readings(browser, 3)
                keep(browser.screenshot(tmp_path / "monitor-restarted.png"))
                assert again.finish() == 0, again.lines
        finally:
            browser.close()
    assert str(bundle_path) in taken[0]["model"] and str(first) in taken[0]["input"]
    check_against_log(taken, tmp_path / "first.csv")
    check_against_log(taken_again, tmp_path / "second.csv")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[int]:
    """A static HTTP server of ``folder`` on 127.0.0.1 (as ``python3 -m http.server``); yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


READOUT = re.compile(
    r"^(?P<time>\S+) s\s+valence (?P<valence>\S+)\s+arousal (?P<arousal>\S+)\s+"
    r"p\(high valence\) (?P<p_high_valence>\S+)\s+p\(high arousal\) (?P<p_high_arousal>\S+)$"
)


@pytest.mark.timeout(300)
def test_the_web_example_draws_from_the_ws_output(bundle_path: Path, write_wav, tmp_path: Path) -> None:
    wav = write_wav("music.wav", music_signal(6.0, 22050), 22050)
    log = tmp_path / "log.csv"
    with serve_folder(EXAMPLE) as http_port:
        page_origin = f"http://127.0.0.1:{http_port}"
        args = ["--input", str(wav), "--pace", "realtime", "--ws", "127.0.0.1:0", "--allow-origin", page_origin]
        with DamerStream([*args, "--no-osc", "--model", str(bundle_path), "--log", str(log)]) as damer:
            ws_url = damer.wait_for(r"^WebSocket: (ws://\S+) ")[1]
            browser = Browser(f"{page_origin}/index.html?ws={ws_url}", tmp_path / "profile")
            try:
                text = "document.getElementById('readout').textContent"
                taken = []
                for after in (2.0, 2.5, 3.0):
                    shown = browser.wait_for(f"parseFloat({text}) >= {after} && {text}", 60)
                    match = READOUT.match(shown)
                    assert match, shown
                    taken.append(match.groupdict())
                keep(browser.screenshot(tmp_path / "example-web.png"), trace_colour=False)
            finally:
                browser.close()
            assert damer.finish() == 0, damer.lines
    table = np.genfromtxt(log, delimiter=",", names=True)
    for shown in taken:
        k = int(np.argmin(np.abs(table["time"] - float(shown["time"]))))
        assert abs(table["time"][k] - float(shown["time"])) <= 0.005 + 1e-9, shown
        for column in LOG_COLUMNS.values():
            assert abs(float(shown[column]) - table[column][k]) <= 0.0005 + 1e-6, (column, shown, table[k])
