"""Merge trees of signed adds and multiplies into one statement of a folded clocked process.

Yosys writes each ``$add``/``$mul`` of an adder tree as its own net, and Icarus
then executes a store and a load per node.  A node ``t = $signed(a) OP $signed(b)``
read once, as ``$signed(t)``, by another such node can be written in its place
without changing a bit, when

* every operand of the merged expression is signed, so Verilog sign-extends
  each to the expression's width before it operates; and
* no node overflows its own net (``W_t >= max(W_a, W_b) + 1`` for ``+``,
  ``W_t >= W_a + W_b`` for ``*``), so ``t`` holds the exact value.

The root's net is wider than every node below it (each level adds a bit), so
the merged expression is evaluated at a width that holds every exact partial
sum, and the root receives the same value as through the chain of nets.
"""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["merge_signed_trees"]

_NAME = r"(?:\\\S+|[A-Za-z_][A-Za-z0-9_$]*)"
_OPERAND = rf"\$signed\(\s*({_NAME})\s*(?:\[(\d+)(?::(\d+))?\])?\s*\)"
_NODE = re.compile(rf"^\s*{_OPERAND}\s*([+*])\s*{_OPERAND}\s*$")
_ASSIGN = re.compile(rf"^  assign ({_NAME})\s*=(.*);\s*$", re.S)


def _width(widths: dict[str, int], name: str, hi, lo) -> int | None:
    if hi is None:
        return widths.get(name)
    return 1 if lo is None else int(hi) - int(lo) + 1


def merge_signed_trees(items: list[str], candidates: set[int], readers, widths: dict[str, int],
                       order: list[int]) -> tuple[dict[int, str], dict[int, int]]:
    """New texts for the roots of mergeable trees, and each merged node's root-ward reader.

    ``candidates``: folded assigns computed under one guard set; ``readers[name]``: the items that read
    ``name``; ``widths``: declared net widths; ``order``: the folded items in topological order.
    """
    nodes = {}
    for k in candidates:
        m = _ASSIGN.match(items[k])
        node = m and _NODE.match(m.group(2))
        if node:
            a, a_hi, a_lo, op, b, b_hi, b_lo = node.groups()
            wa, wb, wt = _width(widths, a, a_hi, a_lo), _width(widths, b, b_hi, b_lo), widths.get(m.group(1))
            if None not in (wa, wb, wt) and wt >= (max(wa, wb) + 1 if op == "+" else wa + wb):
                nodes[k] = (m.group(1), ((a, a_hi), (b, b_hi)), m.group(2))
    by_name = {name: k for k, (name, _, _) in nodes.items()}
    into: dict[int, int] = {}  # merged node -> the node that now contains it
    for k, (_, operands, _) in nodes.items():
        names = [n for n, hi in operands if hi is None]
        for n in set(names):
            t = by_name.get(n)
            if t is not None and names.count(n) == 1 and readers[n] == {k} and t not in into:
                into[t] = k
    children = defaultdict(list)
    for t, parent in into.items():
        children[parent].append(t)
    text: dict[int, str] = {}
    for k in order:
        if k not in nodes:
            continue
        expr = nodes[k][2]
        for t in children[k]:
            merged = f"({text[t]})"
            expr = re.sub(rf"\$signed\(\s*{re.escape(nodes[t][0])}\s*\)", lambda _, m=merged: m, expr, count=1)
        text[k] = expr.strip()
    roots = {k: f"  assign {nodes[k][0]} = {text[k]};\n" for k in nodes if k not in into and children[k]}
    return roots, into
