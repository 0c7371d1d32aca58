"""``damer stream`` with its web outputs: the flags and settings, ``--ws`` messages against the run's own log
(with a client that never reads connected all along), and a port in use."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from damer_core.cli import build_parser, main, parse_arguments
from damer_core.errors import ConfigError
from streamer.commands.stream import settings_from_args
from streamer.settings import MonitorSettings, StreamSettings
from tests.streamer.conftest import music_signal
from tests.streamer.monitor.clients import DamerStream, raw_client

FIELDS = ("time", "valence", "arousal", "p_high_valence", "p_high_arousal")


def settings_for(*argv: str) -> StreamSettings:
    return settings_from_args(parse_arguments(build_parser(), ["stream", *argv]))


def test_defaults() -> None:
    settings = settings_for()
    assert settings.monitor == MonitorSettings("auto", "127.0.0.1:8765", ())
    assert not settings.ws.enabled and settings.ws.address == "127.0.0.1:8766"
    assert settings.monitor.wanted(interactive=True) and not settings.monitor.wanted(interactive=False)


def test_flags() -> None:
    assert settings_for("--monitor").monitor == MonitorSettings(True, "127.0.0.1:8765", ())
    assert settings_for("--monitor", "0.0.0.0:9100").monitor.address == "0.0.0.0:9100"
    assert settings_for("--no-monitor").monitor.wanted(interactive=True) is False
    assert settings_for("--monitor").monitor.wanted(interactive=False) is True
    ws = settings_for("--ws", "8770").ws
    assert ws.enabled and ws.address == "8770"
    both = settings_for("--ws", "0", "--allow-origin", "http://localhost:8000", "--allow-origin", "null")
    assert both.ws.allow_origin == both.monitor.allow_origin == ("http://localhost:8000", "null")


def test_bad_flags_name_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"^command line: monitor\.address: 'nowhere': expected \[HOST:\]PORT"):
        settings_for("--monitor", "nowhere")
    with pytest.raises(ConfigError, match=r"^command line: ws\.address: '70000': port must be in 0\.\.65535"):
        settings_for("--ws", "70000")
    with pytest.raises(ConfigError, match=r"^command line: monitor\.allow_origin\[0\]: 'x.org': expected an origin"):
        settings_for("--allow-origin", "x.org")
    with pytest.raises(SystemExit):
        settings_for("--monitor", "--no-monitor")
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("monitor: {enabled: maybe}", r"monitor\.enabled: must be true, false or auto, got 'maybe'"),
        ("monitor: {address: 'a:b'}", r"monitor\.address: 'a:b': expected \[HOST:\]PORT"),
        ("ws: {allow_origin: ['http://a/b']}", r"ws\.allow_origin\[0\]: 'http://a/b': expected an origin"),
        ("ws: {port: 1}", r"unknown key 'ws\.port'"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text + "\n")
    with pytest.raises(ConfigError, match=f"^{config}: {message}"):
        settings_for("--config", str(config))


@pytest.mark.timeout(240)
def test_ws_messages_match_the_log(bundle_path: Path, write_wav, tmp_path: Path) -> None:
    wav = write_wav("music.wav", music_signal(4.0, 22050), 22050)
    log = tmp_path / "log.csv"
    args = ["--input", str(wav), "--pace", "realtime", "--ws", "127.0.0.1:0", "--no-osc", "--no-monitor"]
    with DamerStream([*args, "--model", str(bundle_path), "--log", str(log)]) as damer:
        url = damer.wait_for(r"^WebSocket: (ws://\S+) ")[1]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        messages = []
        with raw_client(port, "/", receive_buffer=4096), connect(url) as client:  # the first never reads
            try:
                while True:
                    messages.append(json.loads(client.recv(timeout=60)))
            except ConnectionClosedOK:
                pass
        assert damer.finish() == 0, damer.lines
    table = np.genfromtxt(log, delimiter=",", names=True)
    assert all(tuple(m) == FIELDS for m in messages)
    # Every update from the client's connection on, in order, with the log's values: a connection made just
    # after the address was printed misses none or only the first few.
    start = int(np.argmin(np.abs(table["time"] - messages[0]["time"])))
    assert start + len(messages) == table.size and len(messages) >= 0.8 * table.size
    for field in FIELDS:
        received = np.array([m[field] for m in messages])
        np.testing.assert_allclose(received, table[field][start:], rtol=1e-7, atol=1e-9, err_msg=field)
    assert np.all(np.diff([m["time"] for m in messages]) > 0)


@pytest.mark.parametrize("flag", ["--monitor", "--ws"])
def test_a_port_in_use_is_one_line_before_any_audio(
    flag: str, bundle_path: Path, write_wav, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = write_wav("music.wav", music_signal(1.0, 22050), 22050)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["stream", "--input", str(wav), "--no-osc", flag, f"127.0.0.1:{port}", "--model", str(bundle_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and f"127.0.0.1:{port} is already in use" in err, err
    assert err.startswith("damer stream: error: ")
    assert "input:" not in out and "stopped by" not in out
