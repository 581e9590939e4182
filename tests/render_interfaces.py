"""Generate docs/interfaces.md's field tables from the typed contracts (pydantic models and dataclasses).

``python -m tests.render_interfaces`` rewrites every block between
``<!-- generated: NAME -->`` and ``<!-- end generated -->``; tests/test_docs.py fails when the page is stale.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "interfaces.md"


def _contracts() -> dict:
    """Block name -> the types whose fields it tables (imported here: the docs follow the code)."""
    from cosim._job import CosimJob, HeadRun, JobResult
    from hpu_model.manifest import Manifest, Memory, Params, Unit

    return {"manifest": (Manifest, Unit, Memory, Params), "cosim-job": (CosimJob, HeadRun, JobResult)}


def _type_name(t) -> str:
    text = getattr(t, "__name__", None) if not typing.get_args(t) else None
    return text or str(t).replace("typing.", "").replace("hpu_model.manifest.", "").replace("cosim._job.", "")


def _rows(model) -> list[tuple[str, str, str, str]]:
    if hasattr(model, "model_fields"):  # pydantic
        rows = []
        for name, f in model.model_fields.items():
            default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
            rows.append((f.alias or name, _type_name(f.annotation), default, f.description or ""))
        return rows
    hints = typing.get_type_hints(model)
    rows = []
    for f in dataclasses.fields(model):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "required"
        rows.append((f.name, _type_name(hints[f.name]), default, ""))
    return rows


def render_block(name: str) -> str:
    out = []
    for model in _contracts()[name]:
        summary = (model.__doc__ or "").strip().splitlines()[0]
        out += [f"**`{model.__name__}`**: {summary}", "", "| field | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{n}` | `{t.replace(' | ', ' or ')}` | {d} | {m} |".replace("\\|", "|")
                for n, t, d, m in _rows(model)]
        out.append("")
    return "\n".join(out)


_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def render(text: str) -> str:
    """``text`` with every generated block rewritten."""
    return _BLOCK.sub(lambda m: m.group(1) + render_block(m.group("name")) + m.group(4), text)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC}")
