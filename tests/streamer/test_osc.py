"""OSC output checked by real receivers: python-osc's server and liblo's oscdump."""

from __future__ import annotations

import shutil
import socket
import struct
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from damer_core.bundle import Bundle
from damer_core.errors import ConfigError, DeviceError
from streamer.builder import build_engine
from streamer.osc import ADDRESSES, NTP_UNIX_OFFSET, OscEmitter, check_prefix, parse_target
from streamer.recorder import Recorder
from streamer.sources.file import SoundFileReader, file_source
from streamer.update import StreamInfo, Update
from tests.streamer.conftest import music_signal
from tests.streamer.osc_receivers import OscDump, PythonOscReceiver, free_udp_port

EXPECTED_TAGS = {
    "/va": ",ff",
    "/valence": ",f",
    "/arousal": ",f",
    "/valence/p_high": ",f",
    "/arousal/p_high": ",f",
    "/time": ",f",
}


@pytest.fixture
def receiver():
    server = PythonOscReceiver()
    yield server
    server.close()


def f32(x: float) -> float:
    return float(np.float32(x))


def expected_messages(prefix: str, row: dict[str, float]) -> list[tuple[str, str, tuple]]:
    v, a = f32(row["valence"]), f32(row["arousal"])
    values = {
        "/va": (v, a),
        "/valence": (v,),
        "/arousal": (a,),
        "/valence/p_high": (f32(row["p_high_valence"]),),
        "/arousal/p_high": (f32(row["p_high_arousal"]),),
        "/time": (f32(row["time"]),),
    }
    return [(prefix + suffix, EXPECTED_TAGS[suffix], values[suffix]) for suffix, _ in ADDRESSES]


class SendClock:
    """An output placed right after the OSC emitter: the wall-clock time each update was sent."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def begin(self, info: StreamInfo) -> None:
        pass

    def emit(self, update: Update) -> None:
        self.times.append(time.time())

    def close(self) -> None:
        pass


def stream_file(bundle: Bundle, path, emitters, pace: str = "fast") -> tuple[Recorder, object]:
    recorder = Recorder()
    source = file_source(SoundFileReader(path), pace, 1.0, 512 if pace == "realtime" else 2048)
    summary = build_engine(bundle, source, [*emitters, recorder], 0.0, 0.25).run()
    return recorder, summary


def rows(recorder: Recorder) -> list[dict[str, float]]:
    table = recorder.table()
    return [{k: float(v[i]) for k, v in table.items()} for i in range(table["time"].size)]


def test_bundles_reach_python_osc_with_addresses_types_values_order_and_timetags(
    bundle: Bundle, write_wav, receiver
) -> None:
    path = write_wav("music.wav", music_signal(3.0, 22050), 22050)
    emitter = OscEmitter([receiver.target], "/damer")
    sent = SendClock()
    recorder, summary = stream_file(bundle, path, [emitter, sent])
    expected = rows(recorder)
    assert len(expected) == summary.updates > 50
    got = receiver.take(len(expected))
    for packet, row in zip(got, expected, strict=True):
        assert packet.messages == expected_messages("/damer", row)
        # Fast pace: the timetag is the audio time counted from the NTP epoch.
        assert packet.ntp == pytest.approx(row["time"], abs=1e-9)
    handled = [receiver.handled.get(timeout=10) for _ in range(6 * len(expected))]
    assert [h[1] for h in handled[:6]] == [a for a, _, _ in expected_messages("/damer", expected[0])]
    # python-osc's dispatcher (strict timing: it sleeps until a future timetag) delayed nothing: fast-pace
    # timetags lie in the past, so each message reached its handler as soon as its bundle arrived.
    delays = [handled[6 * i + 5][0] - sent_at for i, sent_at in enumerate(sent.times)]
    assert max(delays) < 0.3
    assert emitter.sent == len(expected) and emitter.total_send_errors == 0


def test_realtime_timetags_are_capture_times_on_the_wall_clock(bundle: Bundle, write_wav, receiver) -> None:
    path = write_wav("music.wav", music_signal(1.0, 22050), 22050)
    emitter = OscEmitter([receiver.target], "/live")
    before = time.time()
    recorder, _ = stream_file(bundle, path, [emitter], pace="realtime")
    expected = rows(recorder)
    got = receiver.take(len(expected))
    walls = np.array([p.ntp - NTP_UNIX_OFFSET for p in got])
    times = np.array([r["time"] for r in expected])
    origin = walls - times
    # One origin for the whole stream (up to float rounding and the cap at the send time) ...
    assert np.ptp(origin[5:]) < 0.02
    # ... close to when the stream started (building the engine traces the model: seconds on a busy
    # machine), and no timetag lies in the future of its reception.
    assert before - 0.05 < origin[0] < before + 5.0
    assert (walls <= time.time()).all()
    assert got[0].messages[0][0] == "/live/va"


def test_oscdump_receives_every_bundle(bundle: Bundle, write_wav) -> None:
    if shutil.which("oscdump") is None:
        pytest.skip("oscdump (Debian liblo-tools) is not installed")
    dump = OscDump()
    try:
        path = write_wav("music.wav", music_signal(1.2, 22050), 22050)
        recorder, _ = stream_file(bundle, path, [OscEmitter([dump.target], "/damer")])
        expected = rows(recorder)
        lines = dump.take(6 * len(expected))
    finally:
        dump.close()
    for i, row in enumerate(expected):
        for (ntp, address, tags, args), (want_address, want_tags, want_args) in zip(
            lines[6 * i : 6 * i + 6], expected_messages("/damer", row), strict=True
        ):
            assert address == want_address
            assert "," + tags == want_tags
            np.testing.assert_allclose(args, want_args, atol=1e-6)  # oscdump prints 6 decimals
            assert ntp == pytest.approx(row["time"], abs=1e-9)


def test_several_targets_each_get_everything(bundle: Bundle, write_wav) -> None:
    first, second = PythonOscReceiver(), PythonOscReceiver()
    try:
        path = write_wav("music.wav", music_signal(0.8, 22050), 22050)
        recorder, summary = stream_file(bundle, path, [OscEmitter([first.target, second.target], "/damer")])
        a, b = first.take(summary.updates), second.take(summary.updates)
    finally:
        first.close()
        second.close()
    assert [p.messages for p in a] == [p.messages for p in b]
    assert [p.messages[-1][2][0] for p in a] == [f32(r["time"]) for r in rows(recorder)]


def test_closed_port_never_stops_the_engine(bundle: Bundle, write_wav) -> None:
    port = free_udp_port()  # nobody listens there: the kernel answers ICMP port unreachable
    path = write_wav("music.wav", music_signal(1.0, 22050), 22050)
    emitter = OscEmitter([f"127.0.0.1:{port}"], "/damer")
    _, summary = stream_file(bundle, path, [emitter], pace="realtime")
    assert summary.stopped_by == "end of input"
    assert summary.updates > 30
    assert emitter.total_send_errors > 0  # ConnectionRefusedError on sends after the first
    assert emitter.sent + emitter.total_send_errors == summary.updates
    target = f"127.0.0.1:{port}"
    assert emitter.attempts[target] == summary.updates and emitter.refused[target] == emitter.total_send_errors
    [line] = emitter.report()
    sent, refused = emitter.sent, emitter.refused[target]
    assert line.startswith(f"OSC {target}: {sent} of {summary.updates} bundles sent, {refused} refused: nothing was ")


def test_unresolvable_host_is_a_start_up_error() -> None:
    with pytest.raises(DeviceError, match=r"no-such-host\.invalid.*cannot resolve"):
        OscEmitter(["no-such-host.invalid:9000"])


@pytest.mark.parametrize("text", ["localhost", "localhost:", ":9000", "host:0", "host:70000", "a:b:9000", "[::1]9000"])
def test_malformed_targets(text: str) -> None:
    with pytest.raises(ConfigError, match="OSC target"):
        parse_target(text)


def test_target_forms() -> None:
    assert parse_target("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_target("[::1]:57120") == ("::1", 57120)
    assert parse_target("show-pc.local:7000") == ("show-pc.local", 7000)


@pytest.mark.parametrize("prefix", ["damer", "/da mer", "/damer/*", "", "/x{y}"])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ConfigError, match="OSC prefix"):
        check_prefix(prefix)


def test_datagram_of_a_single_update() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        emitter = OscEmitter([f"127.0.0.1:{sink.getsockname()[1]}"], "/p/q/")
        emitter.begin(StreamInfo("test", realtime=False, origin_unix=None, update_interval_s=0.02))
        emitter.emit(Update(index=0, time=12.75, valence=0.5, arousal=-0.25, p_high_valence=0.75, p_high_arousal=0.125))
        datagram = sink.recv(4096)
        emitter.close()
    seconds, fraction = struct.unpack(">II", datagram[8:16])
    assert (seconds, fraction) == (12, 3 << 30)
    bundle = OscBundle(datagram)
    assert [m.address for m in bundle] == [
        "/p/q/va",
        "/p/q/valence",
        "/p/q/arousal",
        "/p/q/valence/p_high",
        "/p/q/arousal/p_high",
        "/p/q/time",
    ]
    assert [list(m.params) for m in bundle] == [[0.5, -0.25], [0.5], [-0.25], [0.75], [0.125], [12.75]]
