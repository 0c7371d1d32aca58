"""Every ``damer`` command the README and the examples' READMEs show parses as written.

A flag renamed in the code but not in the documentation, or a documented option that never existed, makes
a user's first copy-paste fail: each command line in a shell block is parsed by damer's own parser (nothing
is run). Placeholders in capitals (FILE, PATH) are fine: they are plain values to the parser.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from damer_core.cli import build_parser, parse_arguments

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*/README.md"))]


def shown_commands(document: Path) -> list[str]:
    """The ``damer ...`` lines of the document's ``sh`` code blocks (comments and continuations joined)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", document.read_text(encoding="utf-8"), flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            for part in re.split(r"\s*(?:\|\||&&|;|\|)\s*", line):
                if part.startswith("damer "):
                    commands.append(part)
    return commands


CASES = [(document, command) for document in DOCUMENTS for command in shown_commands(document)]


def test_the_documents_show_commands() -> None:
    assert len(CASES) > 10
    assert not any("until the trained default model ships" in d.read_text() for d in DOCUMENTS)


@pytest.mark.parametrize(("document", "command"), CASES, ids=[f"{d.parent.name}: {c}"[:90] for d, c in CASES])
def test_shown_command_parses(document: Path, command: str) -> None:
    argv = shlex.split(command)[1:]
    if argv and argv[0] == "bench":
        return  # a benchmark script parses its own options
    parse_arguments(build_parser(), argv)
