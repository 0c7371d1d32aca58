"""The TouchDesigner build script (``examples/touchdesigner/build_network.py``), run against a stand-in for
TouchDesigner's Python objects (TouchDesigner cannot run here). The stand-in accepts only the parameters
TouchDesigner's documentation lists for each operator, so the test catches misspelt parameters, menus indexed
past their entries, wiring mistakes and expressions that read operators or channels the network lacks — not
how TouchDesigner itself behaves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamer.settings import OscSettings

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "touchdesigner" / "build_network.py"

# Parameters of each operator type (python names) from its documentation page on docs.derivative.ca; the
# menus with the number of their entries.
DOCUMENTED = {
    "oscinCHOP": {
        "active",
        "protocol",
        "netaddress",
        "port",
        "localaddress",
        "oscaddressscope",
        "useglobalrate",
        "samplerate",
        "queued",
        "stripsegments",
        "resetchannels",
        "resetvalues",
        "timeslice",
        "scope",
    },
    "selectCHOP": {
        "chop",
        "channames",
        "renamefrom",
        "renameto",
        "filterbydigits",
        "digits",
        "stripdigits",
        "align",
        "autoprefix",
        "timeslice",
        "scope",
    },
    "lagCHOP": {
        "lagmethod",
        "lag1",
        "lag2",
        "lagunit",
        "overshoot1",
        "overshoot2",
        "overshootunit",
        "clamp",
        "slope1",
        "slope2",
        "aclamp",
        "accel1",
        "accel2",
        "lagsamples",
        "snap",
        "threshold",
        "reset",
        "timeslice",
        "scope",
    },
    "mathCHOP": {
        "preop",
        "chanop",
        "chopop",
        "postop",
        "match",
        "align",
        "interppars",
        "integer",
        "preoff",
        "gain",
        "postoff",
        "fromrange1",
        "fromrange2",
        "torange1",
        "torange2",
        "timeslice",
        "scope",
    },
    "nullCHOP": set(),
    "constantTOP": {
        "colorr",
        "colorg",
        "colorb",
        "alpha",
        "multrgbbyalpha",
        "rgbaunit",
        "compoverinput",
        "operand",
        "resolutionw",
        "resolutionh",
        "outputresolution",
    },
    "circleTOP": {
        "radiusx",
        "radiusy",
        "radiusunit",
        "rotate",
        "centerx",
        "centery",
        "centerunit",
        "justifyh",
        "justifyv",
        "fillcolorr",
        "fillcolorg",
        "fillcolorb",
        "fillalpha",
        "borderr",
        "borderg",
        "borderb",
        "borderalpha",
        "bgcolorr",
        "bgcolorg",
        "bgcolorb",
        "bgalpha",
        "multrgbbyalpha",
        "borderwidth",
        "borderwidthunit",
        "antialias",
        "softness",
        "ispolygon",
        "sides",
        "compoverinput",
        "operand",
        "resolutionw",
        "resolutionh",
        "outputresolution",
    },
}
MENU_ENTRIES = {
    "lagunit": 3,
    "radiusunit": 3,
    "centerunit": 3,
}  # Samples/Frames/Seconds; Pixels/Fraction/Fraction Aspect
CHOP_TYPES = {name for name in DOCUMENTED if name.endswith("CHOP")}


class Par:
    def __init__(self, name: str) -> None:
        self.name, self.val, self.expr, self.menuIndex = name, None, None, None

    def __setattr__(self, key: str, value) -> None:
        if key == "menuIndex" and value is not None:
            assert self.name in MENU_ENTRIES and 0 <= value < MENU_ENTRIES[self.name], (self.name, value)
        object.__setattr__(self, key, value)


class Pars:
    def __init__(self, op_type: str) -> None:
        object.__setattr__(self, "_type", op_type)
        object.__setattr__(self, "_pars", {})

    def get(self, name: str) -> Par:
        assert name in DOCUMENTED[self._type], f"{self._type} documents no parameter {name!r}"
        return self._pars.setdefault(name, Par(name))

    __getattr__ = get

    def __setattr__(self, name: str, value) -> None:
        self.get(name).val = value


class Connector:
    def __init__(self, owner: Operator) -> None:
        self.owner = owner

    def connect(self, target: Operator) -> None:
        self.owner.parent.wires.append((self.owner.name, target.name))


class Operator:
    def __init__(self, op_type: str, name: str, parent: Component | None) -> None:
        self.type, self.name, self.parent = op_type, name, parent
        self.par = Pars(op_type)
        self.outputConnectors = [Connector(self)]
        self.nodeX = self.nodeY = 0
        self.viewer = False
        self.destroyed = False

    @property
    def path(self) -> str:
        return f"{self.parent.path}/{self.name}" if self.parent else ""

    def destroy(self) -> None:
        self.destroyed = True
        del self.parent.children[self.name]


class Component(Operator):
    def __init__(self, name: str, parent: Component | None) -> None:
        super().__init__("baseCOMP", name, parent)
        self.children: dict[str, Operator] = {}
        self.wires: list[tuple[str, str]] = []

    def create(self, op_type: str, name: str) -> Operator:
        assert name not in self.children
        made = Component(name, self) if op_type == "baseCOMP" else Operator(op_type, name, self)
        self.children[name] = made
        return made

    def op(self, name: str) -> Operator | None:
        return self.children.get(name)


def run_script(project: Component) -> Component:
    """Execute the script as the textport would, with the stand-ins for TouchDesigner's globals."""
    names = {name: name for name in [*DOCUMENTED, "baseCOMP"]}
    root = Component("", None)
    root.children["project1"] = project
    namespace = {**names, "op": lambda path: root.op(path.strip("/")), "print": lambda *args: None}
    exec(compile(SCRIPT.read_text(), str(SCRIPT), "exec"), namespace)
    return project.children["damer"]


@pytest.fixture
def network() -> Component:
    return run_script(Component("project1", None))


def test_network_listens_on_the_default_port_and_strips_the_prefix(network: Component) -> None:
    osc_in = network.children["oscin"]
    assert osc_in.type == "oscinCHOP"
    assert f"127.0.0.1:{osc_in.par.port.val}" == OscSettings().targets[0]
    assert osc_in.par.stripsegments.val == len(OscSettings().prefix.strip("/").split("/"))


def test_network_is_wired_osc_to_select_lag_math_null_and_colour_to_dot(network: Component) -> None:
    types = {name: child.type for name, child in network.children.items()}
    assert types == {
        "oscin": "oscinCHOP",
        "select": "selectCHOP",
        "lag": "lagCHOP",
        "math": "mathCHOP",
        "out": "nullCHOP",
        "p_high": "selectCHOP",
        "colour": "constantTOP",
        "dot": "circleTOP",
    }
    assert sorted(network.wires) == sorted(
        [
            ("oscin", "select"),
            ("select", "lag"),
            ("lag", "math"),
            ("math", "out"),
            ("oscin", "p_high"),
            ("colour", "dot"),
        ]
    )
    ranges = network.children["math"].par
    assert [ranges.fromrange1.val, ranges.fromrange2.val, ranges.torange1.val, ranges.torange2.val] == [-1, 1, 0, 1]
    assert network.children["dot"].viewer


def test_expressions_read_channels_that_reach_the_null(network: Component) -> None:
    selected = network.children["select"].par.channames.val.split()
    assert selected == ["valence", "arousal"]
    expressions = [par.expr for child in network.children.values() for par in child.par._pars.values() if par.expr]
    assert len(expressions) == 5
    for expression in expressions:
        reads = re.findall(r"op\('(\w+)'\)\['(\w+)'\]", expression)
        assert reads, expression
        for name, channel in reads:
            # Select, Lag and Math keep the channel names, so the Null holds the selected channels.
            assert network.children[name].type in CHOP_TYPES and channel in selected, expression


def test_running_it_again_replaces_the_network() -> None:
    project = Component("project1", None)
    first = run_script(project)
    second = run_script(project)
    assert first.destroyed and not second.destroyed and project.children["damer"] is second
