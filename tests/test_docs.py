"""The docs cannot silently rot: every `hpu ...` command and `make` target they show must parse.

Commands are taken from fenced code blocks in README.md and docs/*.md (inline
code only names commands); optional parts written as ``[--flag X]`` are dropped.
docs/reliability.md is left out: its commands are bad input on purpose, and
tests/reliability runs every one of them.  Each command is
parsed by the real ``hpu`` parser (so a renamed subcommand or option, or a value
out of range, fails here); tests elsewhere run the commands themselves.
"""

import re
import shlex
from pathlib import Path

import pytest

from hpu.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "reliability.md")]


def _snippets(text: str):
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        yield from block.splitlines()


def documented(prefix: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for line in _snippets(doc.read_text()):
            line = line.strip().removeprefix("$ ")
            if not line.startswith(prefix + " "):
                continue
            line = re.sub(r"\s+#.*$", "", line)           # trailing comment
            line = re.sub(r"\[[^\]]*\]", "", line)        # optional parts
            found.append((doc.name, " ".join(line.split())))
    return sorted(set(found))


HPU = documented("hpu")
MAKE = documented("make")


def test_docs_show_commands():
    assert len(HPU) >= 15 and any(cmd.startswith("hpu demo") for _, cmd in HPU)
    assert {cmd for _, cmd in MAKE} >= {"make demo", "make test"}


@pytest.mark.parametrize("doc, command", HPU)
def test_documented_hpu_command_parses(doc, command):
    parser = build_parser()
    try:
        parser.parse_args(shlex.split(command)[1:])
    except SystemExit as exc:
        pytest.fail(f"{doc}: `{command}` does not parse (exit {exc.code})")


@pytest.mark.parametrize("doc, command", MAKE)
def test_documented_make_target_exists(doc, command):
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    for target in shlex.split(command)[1:]:
        if "=" not in target:
            assert target in targets, f"{doc}: `{command}` names no Makefile target {target!r}"


def test_interfaces_tables_are_generated_from_the_contracts():
    """docs/interfaces.md's field tables are the contracts' fields (regenerate: python -m tests.render_interfaces)."""
    from tests.render_interfaces import DOC, render

    text = DOC.read_text(encoding="utf-8")
    assert "<!-- generated: manifest -->" in text and "<!-- generated: cosim-job -->" in text
    assert render(text) == text, "docs/interfaces.md is stale: run python -m tests.render_interfaces"
