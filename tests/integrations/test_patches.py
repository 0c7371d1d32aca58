"""The example patches, checked by structure: the Max patch (``examples/max/damer.maxpat``, Max cannot run here)
and the Pure Data patch (``examples/puredata/damer.pd``; ``test_puredata.py`` also runs it in real Pd).

Both must listen where ``damer stream`` sends by default and route exactly the addresses it sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamer.osc import ADDRESSES, DEFAULT_PREFIX
from streamer.settings import OscSettings
from tests.integrations.puredata import PdBox, io_counts, parse_pd, receive_name

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_PORT = int(OscSettings().targets[0].rsplit(":", 1)[1])
SENT = [DEFAULT_PREFIX + suffix for suffix, _ in ADDRESSES]

# (numinlets, numoutlets, outlettype) of every Max class the patch uses, as Max 8/9 saves them (read from
# patches saved by Max: route has one inlet and one outlet per argument plus one).
MAX_IO = {
    "comment": (1, 0, None),
    "message": (2, 1, [""]),
    "slider": (1, 1, [""]),
    "flonum": (1, 2, ["", "bang"]),
    "pictslider": (2, 2, ["int", "int"]),
    "udpreceive": (1, 1, [""]),
    "unpack f f": (1, 2, ["float", "float"]),
    "scale": (6, 1, [""]),
}


# ---------------------------------------------------------------------------------------------- Max


@pytest.fixture(scope="module")
def max_patch() -> dict:
    return json.loads((EXAMPLES / "max" / "damer.maxpat").read_text())["patcher"]


def max_boxes(patcher: dict) -> dict[str, dict]:
    return {entry["box"]["id"]: entry["box"] for entry in patcher["boxes"]}


def max_lines(patcher: dict) -> list[tuple[str, int, str, int]]:
    return [(*line["patchline"]["source"], *line["patchline"]["destination"]) for line in patcher["lines"]]


def expected_io(box: dict) -> tuple[int, int, list[str] | None]:
    if box["maxclass"] != "newobj":
        return MAX_IO[box["maxclass"]]
    words = box["text"].split()
    if words[0] == "route":
        n = len(words)
        return n, n, [""] * n
    return MAX_IO[box["text"]] if box["text"] in MAX_IO else MAX_IO[words[0]]


def test_max_patch_is_a_max_patcher(max_patch: dict) -> None:
    assert max_patch["fileversion"] == 1
    assert {"major", "minor", "revision"} <= set(max_patch["appversion"])
    assert len(max_patch["rect"]) == 4
    ids = [entry["box"]["id"] for entry in max_patch["boxes"]]
    assert len(ids) == len(set(ids))
    for box in max_boxes(max_patch).values():
        assert len(box["patching_rect"]) == 4
        inlets, outlets, types = expected_io(box)
        assert (box["numinlets"], box["numoutlets"], box.get("outlettype")) == (inlets, outlets, types), box


def test_every_max_connection_joins_existing_outlets_and_inlets(max_patch: dict) -> None:
    boxes = max_boxes(max_patch)
    lines = max_lines(max_patch)
    assert lines
    for source, outlet, sink, inlet in lines:
        assert 0 <= outlet < boxes[source]["numoutlets"], (source, outlet)
        assert 0 <= inlet < boxes[sink]["numinlets"], (sink, inlet)
    assert len(set(lines)) == len(lines)


def test_max_patch_routes_every_address_to_a_display(max_patch: dict) -> None:
    boxes = max_boxes(max_patch)
    lines = max_lines(max_patch)
    objects = [b for b in boxes.values() if b["maxclass"] == "newobj"]
    (udp,) = [b for b in objects if b["text"].startswith("udpreceive")]
    assert udp["text"] == f"udpreceive {DEFAULT_PORT}"
    (route,) = [b for b in objects if b["text"].startswith("route")]
    assert route["text"].split()[1:] == SENT  # udpreceive gives each message with its address as the selector
    assert (udp["id"], 0, route["id"], 0) in lines

    def fed_by(box_id: str, outlet: int) -> list[dict]:
        return [boxes[sink] for source, out, sink, _ in lines if (source, out) == (box_id, outlet)]

    for outlet, address in enumerate(SENT[1:5], start=1):  # valence, arousal and their p(high): a slider each
        (slider,) = [b for b in fed_by(route["id"], outlet) if b["maxclass"] == "slider"]
        low, span = (-1.0, 2.0) if address.endswith(("/valence", "/arousal")) else (0.0, 1.0)
        assert (slider["floatoutput"], slider["min"], slider["size"]) == (1, low, span), address
        assert any(b["maxclass"] == "flonum" for b in fed_by(route["id"], outlet))
    assert [b["maxclass"] for b in fed_by(route["id"], 5)] == ["flonum"]  # /damer/time
    assert fed_by(route["id"], 6) == []  # nothing else is sent

    # /damer/va -> unpack -> one scale per axis -> the pad's horizontal (left) and vertical (right) inlets.
    (unpack,) = fed_by(route["id"], 0)
    assert unpack["text"] == "unpack f f"
    (pad,) = [b for b in boxes.values() if b["maxclass"] == "pictslider"]
    for outlet, (pad_inlet, low, high) in enumerate(
        [(0, pad["leftvalue"], pad["rightvalue"]), (1, pad["bottomvalue"], pad["topvalue"])]
    ):
        (scale,) = fed_by(unpack["id"], outlet)
        assert [float(v) for v in scale["text"].split()[1:]] == [-1.0, 1.0, low, high]
        assert (scale["id"], 0, pad["id"], pad_inlet) in lines
    assert low < high  # arousal grows upwards


# ---------------------------------------------------------------------------------------------- Pure Data


@pytest.fixture(scope="module")
def pd_patch():
    return parse_pd((EXAMPLES / "puredata" / "damer.pd").read_text())


def test_every_pd_connection_joins_existing_outlets_and_inlets(pd_patch) -> None:
    assert pd_patch.connections
    for source, outlet, sink, inlet in pd_patch.connections:
        assert 0 <= outlet < io_counts(pd_patch.boxes[source])[1], pd_patch.boxes[source]
        assert 0 <= inlet < io_counts(pd_patch.boxes[sink])[0], pd_patch.boxes[sink]
    for box in pd_patch.boxes:
        io_counts(box)  # every class is one whose inlets and outlets are known


def test_pd_patch_routes_every_address_to_a_display(pd_patch) -> None:
    boxes = pd_patch.boxes

    def index(*atoms: str) -> int:
        (i,) = [i for i, b in enumerate(boxes) if b.kind == "obj" and b.atoms == atoms]
        return i

    def fed_by(i: int, outlet: int) -> list[int]:
        return [sink for source, out, sink, _ in pd_patch.connections if (source, out) == (i, outlet)]

    net = index("netreceive", "-u", "-b", str(DEFAULT_PORT))
    assert fed_by(net, 0) == [index("oscparse")]
    assert fed_by(index("oscparse"), 0) == [index("list", "trim")]
    prefix = index("route", *DEFAULT_PREFIX.strip("/").split("/"))
    assert fed_by(index("list", "trim"), 0) == [prefix]
    # [oscparse] splits addresses at '/': after the prefix, the first segment selects, p_high comes next.
    first = list(dict.fromkeys(suffix.split("/")[1] for suffix, _ in ADDRESSES))
    addresses = index("route", *first)
    assert fed_by(prefix, 0) == [addresses]

    def sent_to(i: int) -> str:
        box = boxes[i]
        assert box.name == "s", box
        return box.atoms[1]

    routes = {name: fed_by(addresses, outlet) for outlet, name in enumerate(first)}
    assert [boxes[i].atoms for i in routes["va"]] == [("unpack", "f", "f")]
    assert [sent_to(i) for i in routes["time"]] == ["damer-time"]
    senders = {"damer-time"}
    for name in ("valence", "arousal"):
        (split,) = routes[name]
        assert boxes[split].atoms == ("route", "p_high")
        assert [sent_to(i) for i in fed_by(split, 0)] == [f"damer-{name}-p-high"]
        assert [sent_to(i) for i in fed_by(split, 1)] == [f"damer-{name}"]  # a plain float: the value itself
        senders |= {f"damer-{name}", f"damer-{name}-p-high"}
    assert fed_by(addresses, len(first)) == []  # nothing else is sent

    # Every value has a display receiving it, with the value's range.
    shown: dict[str, list[PdBox]] = {}
    for box in boxes:
        if receive_name(box):
            shown.setdefault(receive_name(box), []).append(box)
    assert senders <= set(shown)
    for name in senders - {"damer-time"}:
        (slider,) = [b for b in shown[name] if b.name == "hsl"]
        low, high = (0.0, 1.0) if name.endswith("p-high") else (-1.0, 1.0)
        assert (float(slider.atoms[3]), float(slider.atoms[4])) == (low, high), name
    assert [b.name for b in shown["damer-dot"]] == ["cnv"]
