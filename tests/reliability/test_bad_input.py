"""Bad input everywhere: each case of :mod:`tests.reliability.cases` gives one clear line, never a traceback.

Command lines run through ``hpu.cli.main`` in the case folder with stderr
captured (what ``hpu`` prints, uncaught exceptions fail the test), and a
sample of them again as real ``hpu`` processes; Python calls must raise an
``HPUError``.  The table in docs/reliability.md must equal the rendering of
the case list.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings

import pytest

from hpu.cli import main
from hpu_model.errors import HPUError

from . import files
from .cases import API_CASES, CLI_CASES, api_namespace
from .classes import CHECKS, CLASS_CLI_CASES
from .render_table import CLASS_BEGIN, CLASS_END, DOC, current_table, render, render_classes


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return files.make(tmp_path_factory.mktemp("bad-input"))


def _check_line(err: str, expect: str) -> None:
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert expect in lines[0], f"{expect!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case", CLI_CASES + CLASS_CLI_CASES, ids=lambda c: c.id)
def test_cli_case_is_one_line_and_exit_2(case, folder, monkeypatch):
    monkeypatch.chdir(folder)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("default")  # a warning printed on stderr counts as a second line
        try:
            code = main(list(case.argv))
        except SystemExit as exc:  # argparse's own exits
            code = exc.code
    assert code == 2, f"exit {code}; stderr: {err.getvalue()}"
    _check_line(err.getvalue(), case.expect)
    assert "PASS" not in out.getvalue()


#: cases run again as separate ``hpu`` processes: the real entry point, one per area
_ALL_CLI = CLI_CASES + CLASS_CLI_CASES
_PROCESS = [c for i, c in enumerate(_ALL_CLI) if c.area != _ALL_CLI[i - 1].area or i == 0]


@pytest.mark.parametrize("case", _PROCESS, ids=lambda c: c.id)
def test_cli_case_in_a_process(case, folder):
    proc = subprocess.run([sys.executable, "-m", "hpu.cli", *case.argv], cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    _check_line(proc.stderr, case.expect)


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.id)
def test_api_case_raises_one_line_hpu_error(case, folder, monkeypatch):
    monkeypatch.chdir(folder)
    ns = api_namespace(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the kernel's interpreter notice
        with pytest.raises(HPUError) as info:
            eval(case.call, {}, ns)  # the expressions are this package's own case list
    _check_line(str(info.value), case.expect)


def test_cases_are_unique():
    ids = [c.id for c in CLI_CASES + API_CASES + CLASS_CLI_CASES] + [f"{c.cls}: {c.what}" for c in CHECKS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.test)
def test_every_named_check_is_a_test(check):
    import importlib

    module, _, name = check.test.partition("::")
    mod = importlib.import_module(f"tests.reliability.{module.removesuffix('.py')}")
    assert callable(getattr(mod, name, None)), f"{check.test} does not exist"


def test_doc_table_is_the_rendered_case_list():
    text = DOC.read_text()
    assert current_table(text) == render(), \
        "docs/reliability.md is stale: run .venv/bin/python -m tests.reliability.render_table"
    assert current_table(text, CLASS_BEGIN, CLASS_END) == render_classes(), \
        "docs/reliability.md is stale: run .venv/bin/python -m tests.reliability.render_table"
