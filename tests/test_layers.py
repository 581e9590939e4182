"""The architecture's one-way data flow, checked on the source: no package imports a layer above it.

spec (hpu_model) -> golden / RTL / kernel -> cosim, power -> workloads -> explore -> application (hpu)

cosim produces waveforms and power reads them, but neither imports the other: a file is their interface.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: package -> layer; a module may import its own package and packages of a strictly lower layer only.
LAYERS = {"hpu_model": 0, "hpu_rtl": 1, "kernels": 1, "cosim": 2, "power": 2, "workloads": 3, "explore": 4, "hpu": 5}


def _imports(path: Path):
    """Top-level package names that ``path`` imports (absolute imports, also inside functions)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.split(".")[0]


def violations(root: Path) -> list[str]:
    """Every import of ``root``'s packages that goes to the same or a higher layer of another package."""
    found = []
    for package, layer in LAYERS.items():
        for path in sorted((root / package).rglob("*.py")):
            for target in _imports(path):
                if target in LAYERS and target != package and LAYERS[target] >= layer:
                    found.append(f"{path.relative_to(root)} imports {target} (layer {LAYERS[target]} >= {layer})")
    return sorted(set(found))


def test_no_package_imports_a_layer_above_it():
    assert violations(ROOT) == []


def test_layer_check_finds_an_upward_import(tmp_path):
    """The check itself can fail: power importing cosim, and hpu_rtl importing kernels (same layer)."""
    for package, text in (("power", "from cosim import simulate\n"), ("hpu_rtl", "def f():\n    import kernels\n"),
                          ("hpu_model", "import numpy\n")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "x.py").write_text(text)
    assert violations(tmp_path) == ["hpu_rtl/x.py imports kernels (layer 1 >= 1)",
                                    "power/x.py imports cosim (layer 2 >= 2)"]


def test_building_the_parser_imports_no_heavy_library():
    """`hpu golden --help` (and any parser build) must not import torch, triton, cocotb or amaranth."""
    code = ("import sys; from hpu.cli import build_parser; build_parser().parse_known_args(['golden']);"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'triton', 'cocotb', 'amaranth', 'matplotlib', 'transformers', 'dask'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_no_module_sets_the_environment_at_import():
    """Assigning os.environ at module level changes every importer's process (e.g. TRITON_INTERPRET)."""
    offenders = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:  # module level only: functions may set it for a subprocess they start
                for sub in ast.walk(node):
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        break
                    if (isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store)
                            and ast.unparse(sub.value) == "os.environ"):
                        offenders.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
                    if (isinstance(sub, ast.Call) and ast.unparse(sub.func) in ("os.environ.setdefault",
                                                                                "os.environ.update", "os.putenv")):
                        offenders.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    assert offenders == []
