"""The Verilog top ``tb`` around ``hpu``: clock, X/Z checks, stream counters, taps log, VCD window.

Everything that would otherwise cost Python work every cycle lives here, in
Verilog: the clock, the cycle counter, the X/Z check of every output, the
per-stream beat counters (for hang reports) and the debug-tap log (one text
line per tap pulse).  Python only wakes on stream handshakes and on ``done``.

Plusargs read by the generated top (all optional):

``+taps=FILE``      log start/done cycles and every debug-tap pulse to FILE
``+vcd=FILE``       dump a VCD of the whole ``tb`` hierarchy to FILE
``+vcd_from=N``     start the dump at cycle N (default 0)
``+vcd_to=M``       stop it at cycle M (``$dumpoff``: values read ``x`` afterwards)
``+heads=H``        the job's number of runs: ``run_complete`` rises when the last one raises ``done``

A VCD proves what it is (checked by the power analyzer, power/_seal.py): ``tb.design_hash``
holds the SHA-256 of the simulated Verilog (the manifest's ``design_hash``),
``tb.manifest_hash`` that of the manifest exported with it (zero for a stand-in), and
``tb.run_complete`` is 1 at the end of a VCD of a whole run (a VCD that ends with
it 0 was cut short: disk full, interrupted simulator, truncated file).

With ``COCOTB_CLOCK`` defined (Verilator builds) cocotb drives the clock instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Port", "contract_ports", "optional_ports_in", "outputs", "wrapper", "streams", "CLOCK_NS", "TAP_RECORDS",
           "OPTIONAL_PORTS"]

CLOCK_NS = 10  # clock period; the wrapper's `timescale is 1ns/1ps
PATH_CHARS = 4096  # longest plusarg path: plain Verilog-2005 (no `string`), see cosim/_build.py

#: Tap log records: letter -> (valid port, [(field, port, signed)]).  Ports from docs/interfaces.md section 1.
TAP_RECORDS = {
    "R": ("dbg_row_valid", [("row", "dbg_row_idx", False), ("m", "dbg_row_m", True), ("k", "dbg_row_k", False),
                            ("z", "dbg_row_z", False), ("r", "dbg_row_r", False)]),
    "K": ("dbg_keep_valid", [("row", "dbg_keep_row", False), ("idx", "dbg_keep_idx", False),
                             ("e", "dbg_keep_e", False)]),
    "T": ("dbg_tile_valid", [("block", "dbg_tile_block", False), ("tile", "dbg_tile_idx", False),
                             ("score", "dbg_tile_score", True), ("keep", "dbg_tile_keep", False)]),
}
#: Ports a design may have beyond contract v1 (the tile gate, contract v2): connected when the Verilog has them.
OPTIONAL_PORTS = (("cfg_gate", "input", 1), ("dbg_tile_valid", "output", 1), ("dbg_tile_block", "output", 16),
                  ("dbg_tile_idx", "output", 16), ("dbg_tile_score", "output", 24), ("dbg_tile_keep", "output", 1))


@dataclass(frozen=True)
class Port:
    """One port of the top module: ``direction`` is ``"input"`` or ``"output"``."""

    name: str
    direction: str
    width: int


def optional_ports_in(verilog: str, top: str = "hpu") -> tuple[str, ...]:
    """The :data:`OPTIONAL_PORTS` that module ``top`` of ``verilog`` declares."""
    m = re.search(rf"^module\s+{re.escape(top)}\s*\((.*?)\);", verilog, re.M | re.S)
    header = m.group(1) if m else ""
    body = verilog[m.end():verilog.find("endmodule", m.end())] if m else ""
    return tuple(name for name, _, _ in OPTIONAL_PORTS
                 if re.search(rf"\b{name}\b", header) or re.search(rf"\b(input|output)\b[^;]*\b{name}\b", body))


def contract_ports(head_dim: int, optional: tuple[str, ...] = ()) -> list[Port]:
    """Ports of ``hpu`` for head dimension D, as docs/interfaces.md section 1 fixes them.

    The RTL is checked against this list when the top is compiled: Icarus
    reports a missing port as an error and a width mismatch as a warning, and
    :mod:`cosim._build` turns both into a build failure.
    """
    d = head_dim
    table = [("clk", "input", 1), ("rst", "input", 1), ("cfg_n_q", "input", 16), ("cfg_n_k", "input", 16),
             ("cfg_p16", "input", 17), ("cfg_causal", "input", 1), ("cfg_c", "input", 15), ("cfg_r", "input", 5),
             ("start", "input", 1), ("busy", "output", 1), ("done", "output", 1)]
    for s in ("k", "v", "q"):
        table += [(f"{s}_tdata", "input", 8 * d), (f"{s}_tvalid", "input", 1), (f"{s}_tready", "output", 1)]
    table += [("o_tdata", "output", 16 * d), ("o_tvalid", "output", 1), ("o_tready", "input", 1),
              ("o_tlast", "output", 1),
              ("dbg_row_valid", "output", 1), ("dbg_row_idx", "output", 16), ("dbg_row_m", "output", 24),
              ("dbg_row_k", "output", 16), ("dbg_row_z", "output", 32), ("dbg_row_r", "output", 26),
              ("dbg_keep_valid", "output", 1), ("dbg_keep_row", "output", 16), ("dbg_keep_idx", "output", 16),
              ("dbg_keep_e", "output", 16)]
    unknown = set(optional) - {name for name, _, _ in OPTIONAL_PORTS}
    if unknown:
        raise ValueError(f"unknown optional ports {sorted(unknown)}")
    table += [row for row in OPTIONAL_PORTS if row[0] in optional]
    return [Port(*row) for row in table]


def outputs(ports: list[Port]) -> list[str]:
    """Output names in the order of the wrapper's ``xz_port`` index."""
    return [p.name for p in ports if p.direction == "output"]


def streams(ports: list[Port]) -> list[str]:
    """Prefixes ``p`` with both ``p_tvalid`` and ``p_tready`` ports, in port order."""
    names = {p.name for p in ports}
    return [p.name[:-7] for p in ports if p.name.endswith("_tvalid") and p.name[:-7] + "_tready" in names]


def _rng(width: int) -> str:
    return f" [{width - 1}:0]" if width > 1 else ""


def _stream_roles(ports: list[Port]) -> tuple[dict, list[tuple[str, str, int]]]:
    """How the top connects each DUT port: ``{port: expression}`` and the testbench side's signals.

    Stream ``s`` into the DUT is driven through ``s_src_*`` and stream ``s`` out of it is taken
    through ``s_snk_*``; between them sits the stall throttle (see :func:`wrapper`).  Every other
    input is driven by the testbench under its own name.  The returned list holds
    (direction seen by the testbench: "drive"/"watch", name, width).
    """
    by_name = {p.name: p for p in ports}
    conns, tb_side = {}, []
    for s in streams(ports):
        into = by_name[f"{s}_tvalid"].direction == "input"
        side = f"{s}_src" if into else f"{s}_snk"
        for p in ports:
            if not p.name.startswith(f"{s}_t"):
                continue
            tail = p.name[len(s) + 1:]
            if tail in ("tvalid", "tready"):
                conns[p.name] = p.name  # a wire of the throttle
                tb_side.append(("drive" if p.direction == "input" else "watch", f"{side}_{tail}", 1))
            elif p.direction == "input":
                conns[p.name] = f"{side}_{tail}"
                tb_side.append(("drive", f"{side}_{tail}", p.width))
            else:
                conns[p.name] = p.name
                tb_side.append(("watch", f"{side}_{tail}", p.width))
    for p in ports:
        if p.name not in conns:
            conns[p.name] = p.name
            if p.direction == "input" and p.name != "clk":
                tb_side.append(("drive", p.name, p.width))
    return conns, tb_side


def _throttles(ports: list[Port]) -> list[str]:
    """Per stream: an xorshift32 stall generator and the AXI-legal throttle that applies it."""
    by_name = {p.name: p for p in ports}
    lines = ["  // stall generators: one xorshift32 per stream, stepped at every edge; stream s stalls in a",
             "  // cycle when its state's top 16 bits are below stall_q16 (+stall_q16=P, 0..65536; 0: never)",
             "  function [31:0] xorshift32(input [31:0] x);\n    reg [31:0] y;\n    begin",
             "      y = x ^ (x << 13);\n      y = y ^ (y >> 17);\n      xorshift32 = y ^ (y << 5);\n    end",
             "  endfunction",
             "  reg [16:0] stall_q16;\n  reg [31:0] stall_seed;  // no initializers: the initial block below sets them"]
    names = streams(ports)
    lines += [f"  reg [31:0] {s}_rng;" for s in names]
    lines += ['  initial begin\n    if (!$value$plusargs("stall_q16=%d", stall_q16)) stall_q16 = 0;',
              '    if (!$value$plusargs("stall_seed=%d", stall_seed)) stall_seed = 0;']
    for i, s in enumerate(names):
        lines.append(f"    {s}_rng = (stall_seed * 32'd2654435761) ^ 32'd{STREAM_SALT[i % len(STREAM_SALT)]};"
                     f" if ({s}_rng == 0) {s}_rng = 1;")
    lines.append("  end")
    for s in names:
        lines += [f"  always @(posedge clk) {s}_rng <= xorshift32({s}_rng);",
                  f"  wire {s}_stall = {{1'b0, {s}_rng[31:16]}} < stall_q16;"]
        if by_name[f"{s}_tvalid"].direction == "input":
            # a beat the DUT has seen stays valid until taken (AXI): the stall may only delay a new one
            lines += [f"  reg {s}_held = 0;\n  wire {s}_pass = {s}_held || !{s}_stall;",
                      f"  assign {s}_tvalid = {s}_src_tvalid && {s}_pass;",
                      f"  assign {s}_src_tready = {s}_tready && {s}_pass;",
                      f"  always @(posedge clk) {s}_held <= {s}_tvalid && !{s}_tready;"]
        else:
            lines += [f"  assign {s}_tready = {s}_snk_tready && !{s}_stall;",
                      f"  assign {s}_snk_tvalid = {s}_tvalid && !{s}_stall;"]
    return lines


#: Per-stream constants mixed into the stall seed (odd 32-bit values, so streams differ).
STREAM_SALT = (0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0x9E3779B9, 0xD3A2646C)
#: Cycles between two lines of the ``+progress=FILE`` log.
PROGRESS_EVERY = 1024


def wrapper(ports: list[Port], top: str = "hpu", dumps: list[str] = (), native: bool = False,
            design_hash: str | None = None, manifest_hash: str | None = None) -> str:
    """Verilog source of module ``tb`` instantiating ``top`` as ``dut``.

    ``dumps`` (names below ``dut``, from :func:`cosim._dumps.register_dumps`) is what a VCD holds
    when the simulator runs with ``+vcd_regs``; without it the VCD holds every net of ``tb``.
    With ``native`` the testbench's signals (``*_src_*``, ``*_snk_*``, cfg, start, clk) and the
    monitors (cycle, beat counters, handshakes) are ports, for the C++ harness of
    ``cosim/native/tb_main.cpp``; otherwise they are regs that cocotb drives.
    ``design_hash`` (``sha256:<64 hex digits>``) becomes the value of ``tb.design_hash`` in every VCD, and
    ``manifest_hash`` (:func:`hpu_model.manifest.content_hash` of its manifest) that of ``tb.manifest_hash``.
    """
    names = {p.name for p in ports}
    for need in ("clk", "rst", "start", "busy", "done"):
        if need not in names:
            raise ValueError(f"module {top} has no port {need!r} (docs/interfaces.md section 1)")
    conns, tb_side = _stream_roles(ports)
    widths = {p.name: p.width for p in ports}
    outs = [p for p in ports if p.direction == "output"]
    watched = [("watch", "busy", 1), ("watch", "done", 1), ("watch", "cycle", 64)]
    for s in streams(ports):
        watched += [("watch", f"{s}_beats", 32), ("watch", f"{s}_last", 64), ("watch", f"{s}_tvalid", 1),
                    ("watch", f"{s}_tready", 1)]
    head = ["// Generated by cosim/_tbgen.py: the testbench top around the HPU. Do not edit.",
            "`timescale 1ns/1ps"]
    if native:
        io = [("drive", "clk", 1), *tb_side, *watched]
        head += ["module tb (" + ", ".join(name for _, name, _ in io) + ");"]
        head += [f"  {'input' if kind == 'drive' else 'output'}{_rng(w)} {name};" for kind, name, w in io]
        head += ["  wire clk;"] + [f"  wire{_rng(w)} {name};" for kind, name, w in tb_side if kind == "drive"]
    else:
        head += ["module tb;",
                 f"  reg clk = 1'b0;\n`ifndef COCOTB_CLOCK\n  always #{CLOCK_NS / 2:g} clk = ~clk;\n`endif"]
        head += [f"  reg{_rng(w)} {name} = 0;" for kind, name, w in tb_side if kind == "drive"]
    lines = head + [f"  localparam PATH_CHARS = {PATH_CHARS};"]
    lines += [f"  wire{_rng(w)} {name};" for kind, name, w in tb_side if kind == "watch"]
    lines += [f"  wire{_rng(widths[p.name])} {p.name};" for p in ports
              if conns[p.name] == p.name and p.name != "clk" and not any(n == p.name for _, n, _ in tb_side)]
    for kind, name, _ in tb_side:  # stream sides that are plain copies (tdata, tlast of O)
        if kind == "watch" and name.rsplit("_", 1)[-1] not in ("tvalid", "tready"):
            lines.append(f"  assign {name} = {name.replace('_snk_', '_', 1)};")
    conn_text = ",\n    ".join(f".{p.name}({conns[p.name]})" for p in ports)
    lines += [f"  {top} dut (\n    {conn_text}\n  );", ""]
    lines += _throttles(ports) + [""]
    lines += ["  // rising edges since time 0 and runs started (start sampled while not busy)",
              "  reg [63:0] cycle = 0;\n  reg [31:0] runs = 0;",
              "  wire started = start && !busy && !rst;",
              "  always @(posedge clk) begin\n    cycle <= cycle + 1;\n    if (started) runs <= runs + 1;\n  end", "",
              "  // first X/Z on any output: index into XZ_PORTS (see cosim/_tbgen.py) and its cycle",
              "  reg xz_seen = 0;\n  reg [15:0] xz_port = 0;\n  reg [63:0] xz_cycle = 0;",
              "  always @(posedge clk) if (!xz_seen) begin"]
    for i, p in enumerate(outs):
        cond = "if" if i == 0 else "else if"
        lines.append(f"    {cond} (^{p.name} === 1'bx) begin xz_seen <= 1; xz_port <= {i}; xz_cycle <= cycle; end")
    lines += ["  end", "", "  // handshakes per stream (DUT side) in the current run, and the cycle of the last one"]
    for s in streams(ports):
        lines += [f"  reg [31:0] {s}_beats = 0;\n  reg [63:0] {s}_last = 0;",
                  f"  always @(posedge clk) if (started) {s}_beats <= 0;"
                  f"\n    else if ({s}_tvalid && {s}_tready) begin {s}_beats <= {s}_beats + 1; {s}_last <= cycle; end"]
    lines += ["", "  // tap log: S run cycle | D run cycle | R run row m k z r | K run row idx e",
              "  integer taps_fd = 0;\n  reg [8 * PATH_CHARS - 1:0] taps_path;",
              '  initial if ($value$plusargs("taps=%s", taps_path)) taps_fd = $fopen(taps_path, "w");',
              "  always @(posedge clk) if (taps_fd != 0 && !rst) begin",
              '    if (started) $fwrite(taps_fd, "S %0d %0d\\n", runs, cycle);',
              '    if (done) begin $fwrite(taps_fd, "D %0d %0d\\n", runs - 1, cycle); $fflush(taps_fd); end']
    for letter, (valid, fields) in TAP_RECORDS.items():
        if valid in names and all(port in names for _, port, _ in fields):
            args = ", ".join(f"$signed({port})" if signed else port for _, port, signed in fields)
            fmt = " ".join(["%0d"] * (len(fields) + 1))
            lines.append(f'    if ({valid}) $fwrite(taps_fd, "{letter} {fmt}\\n", runs - 1, {args});')
    lines += ["  end", "",
              f"  // +progress=FILE: the cycle count every {PROGRESS_EVERY} cycles (simulate()'s progress callback)",
              "  integer progress_fd = 0;\n  reg [8 * PATH_CHARS - 1:0] progress_path;",
              '  initial if ($value$plusargs("progress=%s", progress_path)) progress_fd = $fopen(progress_path, "w");',
              f"  always @(posedge clk) if (progress_fd != 0 && cycle % {PROGRESS_EVERY} == 0) begin",
              '    $fwrite(progress_fd, "%0d\\n", cycle);\n    $fflush(progress_fd);\n  end', ""]
    if native:  # Verilator without --trace: no VCD (cosim.sim refuses vcd= on this path)
        return "\n".join(lines + ["endmodule", ""])
    digest = design_hash[len("sha256:"):] if design_hash else "0" * 64
    content = manifest_hash[len("sha256:"):] if manifest_hash else "0" * 64
    lines += ["  // the waveform's proof of origin and completeness (module docstring)",
              f"  reg [255:0] design_hash = 256'h{digest};",
              f"  reg [255:0] manifest_hash = 256'h{content};",
              "  reg [31:0] heads = 0;\n  reg run_complete = 0;",
              '  initial if (!$value$plusargs("heads=%d", heads)) heads = 0;',
              "  always @(posedge done) if (!rst && heads != 0 && runs == heads) run_complete = 1;", ""]
    lines += ["  // +vcd_regs: flip-flops, enables, clock and handshakes only (cosim/_dumps.py); else every net",
              "  task dump_vars;\n    if ($test$plusargs(\"vcd_regs\")) begin\n      $dumpvars(1, tb);"]
    lines += [f"      $dumpvars(0, tb.dut.{name});" for name in dumps]
    lines += ["    end else $dumpvars(0, tb);\n  endtask", "",
              "  // VCD (vvp must run with -vcd), optionally for cycles [vcd_from, vcd_to) only",
              "  reg [8 * PATH_CHARS - 1:0] vcd_path;",
              "  reg [63:0] vcd_from = 0;\n  reg [63:0] vcd_to = 0;\n  reg vcd = 0;",
              "  initial if ($value$plusargs(\"vcd=%s\", vcd_path)) begin",
              "    vcd = 1;\n    $dumpfile(vcd_path);",
              '    if (!$value$plusargs("vcd_from=%d", vcd_from)) vcd_from = 0;',
              '    if (!$value$plusargs("vcd_to=%d", vcd_to)) vcd_to = 0;',
              "    if (vcd_from == 0) dump_vars;\n  end",
              "  always @(posedge clk) if (vcd) begin",
              "    if (vcd_from != 0 && cycle == vcd_from) dump_vars;",
              "    if (vcd_to != 0 && cycle == vcd_to) begin $dumpoff; $dumpflush; end\n  end",
              "endmodule", ""]
    return "\n".join(lines)
