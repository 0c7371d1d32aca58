"""The web outputs as engine outputs: they copy the engine's reused update, show its summary, say when the
stream ends; and a whole engine run feeds them."""

from __future__ import annotations

import json

import numpy as np
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from streamer.builder import build_engine
from streamer.engine import RunSummary
from streamer.monitor.emitter import open_monitor, open_ws
from streamer.settings import MonitorSettings, WsSettings
from streamer.sources.file import SoundFileReader, file_source
from streamer.update import StreamInfo, Update
from tests.streamer.conftest import music_signal
from tests.streamer.monitor.clients import WAIT_S, until

INFO = StreamInfo("file song.wav", False, None, 0.025)


def emit(emitter, update: Update, n: int) -> None:
    """``n`` updates through one reused instance, as the engine hands them over."""
    for _ in range(n):
        update.time = 0.025 * (update.index + 1)
        update.valence = 0.01 * update.index
        emitter.emit(update)
        update.index += 1


def test_the_monitor_shows_the_stream_and_the_engine_summary() -> None:
    monitor = open_monitor(MonitorSettings(True, "127.0.0.1:0"), "the model")
    try:
        summary = RunSummary(overrun_s=0.5, skipped_s=1.25, skips=3, stopped_by="end of input")
        monitor.watch(summary)
        monitor.begin(INFO)
        update = Update()
        emit(monitor, update, 5)
        assert monitor.url.startswith("http://127.0.0.1:") and monitor.url.endswith("/")
        with connect(monitor.url.replace("http:", "ws:") + "ws", origin=monitor.url.rstrip("/")) as client:
            info, history, stats = (json.loads(client.recv(timeout=WAIT_S)) for _ in range(3))
            assert info["type"] == "info" and info["model"] == "the model"
            assert info["input"] == INFO.source and info["realtime"] is False
            assert history["time"] == [0.025, 0.05, 0.075, 0.1, 0.125]  # copies, not the reused instance
            assert history["valence"] == [0.0, 0.01, 0.02, 0.03, 0.04]
            assert (stats["overrun_s"], stats["skipped_s"], stats["skips"], stats["updates"]) == (0.5, 1.25, 3, 5)
            until(lambda: monitor.server.clients == 1)
            emit(monitor, update, 1)
            message = json.loads(client.recv(timeout=WAIT_S))
            while message["type"] != "update":
                message = json.loads(client.recv(timeout=WAIT_S))
            assert message["index"] == 5 and message["time"] == 0.15
            monitor.close()
            while message["type"] != "end":
                message = json.loads(client.recv(timeout=WAIT_S))
            assert message == {"type": "end", "stopped_by": "end of input"}
    finally:
        monitor.close()


def test_an_engine_run_feeds_the_ws_output(bundle, write_wav) -> None:
    ws = open_ws(WsSettings(True, "127.0.0.1:0"))
    source = file_source(SoundFileReader(write_wav("music.wav", music_signal(1.0, 22050), 22050)), "fast", 4.0, 4096)
    with connect(ws.url) as client:
        until(lambda: ws.server.clients == 1)
        engine = build_engine(bundle, source, [ws], smoothing_s=0.0, max_lag_s=0.25)
        summary = engine.run()  # closes the output: the client gets what was queued, then the end
        messages = []
        try:
            while True:
                messages.append(json.loads(client.recv(timeout=WAIT_S)))
        except ConnectionClosedOK:
            pass
    assert 0 < len(messages) <= summary.updates
    times = np.array([m["time"] for m in messages])
    assert np.all(np.diff(times) > 0) and all(np.isfinite(m["valence"]) for m in messages)
