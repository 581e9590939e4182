"""Fold register-only combinational logic of Yosys Verilog into one clocked process per module.

Yosys writes one ``assign`` per cell.  Icarus turns each into a functor that
re-evaluates, bit by bit for arithmetic, on every input change, glitches
included.  Logic whose only readers are flip-flops of the same clock can
instead run as blocking statements at the clock edge, once per cycle, and only
under the enable of the registers it feeds: Icarus then executes word-level
thread code.  The registers see the same values at the same edges, so the
folded text is cycle- and bit-identical to its source (``tests/rtl/test_fold.py``
checks the outputs and every dumped register's waveform).

What stays continuous ("pinned"): module ports, nets wired to instances, nets
named in ``keep`` (the VCD's enables), left-hand sides that are not whole nets,
and everything those read.  A module with a construct this pass does not know
is copied unchanged.  Only the text forms that Amaranth's ``write_verilog``
emits are recognised; that is why this is a pass over *our* Verilog, not a
general Verilog tool.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

from ._inline import _ASSIGN, _NAME, merge_signed_trees

__all__ = ["fold_text", "FoldStats"]

_LITERAL = re.compile(r"\d*'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ_?]+")
_IDENT = re.compile(_NAME)
_DECL = re.compile(rf"^  (reg|wire|input|output|inout)\b(.*?)({_NAME})\s*(\[[^\]]*\])?\s*(=[^;]*)?;\s*$")
_BLOCK_LHS = re.compile(rf"^\s*({_NAME})\s*(\[[^\]]*\])?\s*=(?!=)", re.M)
_CLOCK_ALIAS = re.compile(rf"^  assign ({_NAME})\s*=\s*clk\s*;$", re.M)
_EDGE = "  always @(posedge clk)"
# ``X = r; if (c1) begin ... end [if (c2) ...]``: the next state of flip-flop r, which holds unless some ci
_HOLD = re.compile(rf"^  always @\* begin\n    if \({_NAME}\s*\) begin end\n    ({_NAME})\s*=\s*({_NAME})\s*;\n"
                   r"((?:    if \(.*\) begin\n(?:      .*\n)*    end\n)+)  end\n$")
_IF = re.compile(r"    if \((.*)\) begin\n(?:      .*\n)*    end\n")
_DFF = re.compile(rf"^{re.escape(_EDGE)}\n    ({_NAME})\s*<=\s*({_NAME})\s*;\n$")
# the first statement of Yosys' ``always @*`` blocks: a branch on the time-0 kick register, with no body
_KICK = re.compile(rf"^ *if \({_NAME}\s*\) begin end\n", re.M)
_GUARDED = re.compile(rf"^{re.escape(_EDGE)} begin\n    if \((.*)\) begin\n((?:      .*\n)*)    end\n  end\n$")


@dataclass
class FoldStats:
    """What the pass did: per module, nets folded of the combinational ones, and the guard groups."""

    modules: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


def _names(text: str) -> set[str]:
    return set(_IDENT.findall(_LITERAL.sub(" ", text)))


@dataclass
class _Sink:
    """Clocked statements run under ``guard`` (None: every edge); ``reads`` are needed under it."""

    guard: str | None
    body: str
    reads: set[str]
    guard_reads: set[str]
    phase: int = 1  # 0: before the guarded groups (a hold's default), 2: after them (its register update)


def _items(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split a module into its header and its items (a declaration, an assign, a whole process, ...)."""
    i = 0
    while not lines[i].rstrip().endswith(");"):
        i += 1
    items: list[list[str]] = []
    depth = 0
    for line in lines[i + 1:-1]:
        if depth == 0 and line.startswith("  ") and not line.startswith("   "):
            items.append([line])
        else:
            items[-1].append(line)
        depth += len(re.findall(r"\bbegin\b", line)) - len(re.findall(r"\bend\b", line))
    return lines[:i + 1], ["".join(x) for x in items]


def _topological(nodes: set[int], reads: dict[int, set[str]], driver: dict[str, int]) -> list[int] | None:
    deps = {t: {driver[n] for n in reads[t] if driver.get(n) in nodes and driver[n] != t} for t in nodes}
    users = defaultdict(list)
    for t, ds in deps.items():
        for d in ds:
            users[d].append(t)
    indeg = {t: len(ds) for t, ds in deps.items()}
    ready = deque(sorted(t for t in nodes if indeg[t] == 0))
    order = []
    while ready:
        t = ready.popleft()
        order.append(t)
        for u in users[t]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    return order if len(order) == len(nodes) else None  # None: a combinational loop


def _fold_module(lines: list[str], keep: set[str]) -> tuple[str, tuple[int, int, int]] | None:
    text = "".join(lines)
    for alias in set(_CLOCK_ALIAS.findall(text)):  # a flattened submodule's clock is a copy of clk
        text = text.replace(f"@(posedge {alias})", "@(posedge clk)").replace(f"@(posedge {alias} )", "@(posedge clk)")
    header, items = _items(text.splitlines(keepends=True))
    kinds, ports, pinned_names, widths = [], set(), set(keep), {}
    defines: dict[int, set[str]] = {}
    reads: dict[int, set[str]] = {}
    for k, it in enumerate(items):
        decl = _DECL.match(it) if it.count("\n") == 1 else None
        if decl:
            kinds.append("decl")
            if decl.group(4) is None:  # a net or register, not a memory
                rng = re.search(r"\[(\d+):(\d+)\]", decl.group(2))
                widths[decl.group(3)] = abs(int(rng.group(1)) - int(rng.group(2))) + 1 if rng else 1
            if decl.group(1) in ("input", "output", "inout"):
                ports.add(decl.group(3))
        elif it.startswith("  assign ") and (a := _ASSIGN.match(it)):
            kinds.append("comb")
            defines[k], reads[k] = {a.group(1)}, _names(a.group(2))
        elif it.startswith("  always @* "):
            kinds.append("comb")
            body = it.split("\n", 1)[1]
            defines[k], reads[k] = {x[0] for x in _BLOCK_LHS.findall(body)}, _names(body)
        elif it.startswith(_EDGE):
            kinds.append("clk")
        elif it.startswith("  always"):
            return None  # another clock or edge: not ours to reorder
        else:  # instances, initial blocks, partial-select assigns: everything named in them stays continuous
            kinds.append("pin")
            pinned_names |= _names(it)
    if "clk" not in ports or "clk" not in kinds:
        return None
    driver: dict[str, int] = {}
    for k, names in defines.items():
        for n in names:
            if n in driver:
                return None
            driver[n] = k
    readers = defaultdict(set)
    for k, it in enumerate(items):
        for n in reads.get(k, _names(it) if kinds[k] == "clk" else ()):
            readers[n].add(k)
    pinned: set[int] = set()
    todo = deque(driver[n] for n in pinned_names | ports if n in driver)
    while todo:  # a continuous net needs continuous inputs
        k = todo.popleft()
        if k not in pinned:
            pinned.add(k)
            todo.extend(driver[n] for n in reads[k] if n in driver)
    folded = {k for k in defines if k not in pinned}
    if not folded:
        return None
    split = None  # registers whose hold branches may run in their own guard groups (None: all)
    for _ in range(3):
        sinks, absorbed, branches = _sinks(items, kinds, folded, driver, readers, split)
        rank = {g: i for i, g in enumerate(dict.fromkeys(s.guard for s in sinks if s.guard is not None))}
        # a register's branches must run in their written order: the groups run in first-use order
        late = {reg for reg, conds in branches.items() if [rank[c] for c in conds] != sorted(rank[c] for c in conds)
                or len(set(conds)) != len(conds)}
        if not late:
            break
        split = set(branches) - late if split is None else split - late
    else:
        sinks, absorbed, _ = _sinks(items, kinds, folded, driver, readers, set())
    temps = folded - absorbed
    order = _topological(temps, reads, driver)
    if order is None:
        return None
    roots, into = merge_signed_trees(items, temps, readers, widths, order)
    for k, text in roots.items():
        items[k] = text
    for t in into:  # a merged node's inputs are now read by its tree's root
        root = t
        while root in into:
            root = into[root]
        reads[root] |= reads[t]
    temps -= set(into)
    need: dict[int, set] = defaultdict(set)  # the guards under which each folded net is read

    def mark(name: str, guard) -> None:
        stack = [name]
        while stack:
            k = driver.get(stack.pop())
            if k in temps and guard not in need[k]:
                need[k].add(guard)
                stack.extend(reads[k])

    for s in sinks:
        for n in s.reads:
            mark(n, s.guard)
        for n in s.guard_reads:
            mark(n, None)
    # A net read under one guard only is computed under it.  A net read under several guards, or at every
    # edge, stays a continuous net: in the process it would be computed at every edge, but Icarus evaluates a
    # net only when one of its inputs changes, and the control logic of idle stages changes at few edges
    # (docs/cosim.md "Speed").  Its inputs are then read under several guards too (``mark`` passes every
    # guard down), so what stays continuous is closed under fan-in.
    shared = {t for t in temps if len(need[t]) > 1 or None in need[t]}
    folded -= shared
    temps -= shared
    order = [t for t in order if t in temps]
    body = [s.body for s in sinks if s.phase == 0]
    guards = list(dict.fromkeys(s.guard for s in sinks if s.guard is not None))
    for g in guards:
        body.append(f"    if ({g}) begin\n")
        body += [_statement(items[t], "      ") for t in order if need[t] == {g}]
        body += [s.body for s in sinks if s.guard == g]
        body.append("    end\n")
    body += [s.body for s in sinks if s.guard is None and s.phase == 1]
    body += [s.body for s in sinks if s.phase == 2]
    regs = {n for k in folded for n in defines[k]}
    out = list(header)
    for k, it in enumerate(items):
        if k in folded or kinds[k] == "clk":
            continue
        if kinds[k] == "decl" and it.startswith("  wire") and _DECL.match(it).group(3) in regs:
            it = "  reg" + it[len("  wire"):]
        out.append(it)
    out += [f"{_EDGE} begin\n", *body, "  end\n", "endmodule\n"]
    live = sum(1 for t in temps if need[t])
    return "".join(out), (len(folded), len(defines), live)


def _sinks(items, kinds, folded, driver, readers, split):
    """Each clocked process as a guarded sink; a flip-flop's hold-pattern next state joins its sink.

    A hold with several conditions (``if (c1) ... if (c2) ...``) becomes its default, one sink per
    branch under that branch's condition and the register update, when its register is in ``split``
    (None: every register), else one sink under ``c1 || c2``.  Returns the sinks, the absorbed
    next-state blocks and each split register's branch conditions in written order.
    """
    sinks, absorbed, branches = [], set(), {}
    for k, it in enumerate(items):
        if kinds[k] != "clk":
            continue
        dff = _DFF.match(it)
        if dff and driver.get(dff.group(2)) in folded:
            reg, nxt = dff.groups()
            b = driver[nxt]
            hold = _HOLD.match(items[b])
            if hold and hold.group(1) == nxt and hold.group(2) == reg and readers[nxt] <= {k, b}:
                absorbed.add(b)
                ifs = list(_IF.finditer(hold.group(3)))
                if len(ifs) > 1 and (split is None or reg in split):
                    branches[reg] = [f.group(1) for f in ifs]
                    sinks.append(_Sink(None, f"    {nxt} = {reg} ;\n", {reg}, set(), phase=0))
                    for f in ifs:
                        inner = f.group(0).split("\n", 1)[1].rsplit("    end\n", 1)[0]
                        sinks.append(_Sink(f.group(1), inner, _names(inner), _names(f.group(1))))
                    sinks.append(_Sink(None, f"    {reg} <= {nxt} ;\n", set(), set(), phase=2))
                    continue
                conds = [f.group(1) for f in ifs]
                guard = conds[0] if len(conds) == 1 else " || ".join(f"({c})" for c in conds)
                body = f"      {nxt} = {reg} ;\n{hold.group(3)}      {reg} <= {nxt} ;\n"
                sinks.append(_Sink(guard, body, _names(hold.group(3)) | {reg}, _names(guard)))
                continue
        g = _GUARDED.match(it)
        if g:
            sinks.append(_Sink(g.group(1), g.group(2), _names(g.group(2)), _names(g.group(1))))
        else:
            stmt = it[len(_EDGE):]
            sinks.append(_Sink(None, "   " + stmt, _names(stmt), set()))
    return sinks, absorbed, branches


def _statement(item: str, indent: str) -> str:
    """An ``assign`` or an ``always @*`` block as a blocking statement of the clocked process.

    Yosys starts each ``always @*`` block with ``if (\\$auto$...) begin end``, which only makes the block
    sensitive to a register that changes at time 0; in a clocked process it is a load and a branch that do
    nothing, at every execution, so it is dropped.
    """
    if item.startswith("  assign "):
        return indent + item[len("  assign "):]
    return indent + _KICK.sub("", item[len("  always @* "):], count=1)


def fold_text(verilog: str, keep=()) -> tuple[str, FoldStats]:
    """Fold every module of ``verilog``; ``keep`` names nets that stay continuous (e.g. dumped enables)."""
    keep = set(keep)
    out, stats, module = [], FoldStats(), None
    for line in verilog.splitlines(keepends=True):
        if module is None and line.startswith("module "):
            module = [line]
        elif module is not None:
            module.append(line)
            if line.startswith("endmodule"):
                name = module[0].split()[1].split("(")[0]
                res = _fold_module(module, keep)
                if res is None:
                    out.append("".join(module))
                    stats.unchanged.append(name)
                else:
                    out.append(res[0])
                    stats.modules[name] = res[1]
                module = None
        else:
            out.append(line)
    return "".join(out), stats
