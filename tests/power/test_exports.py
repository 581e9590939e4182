"""SAIF and Accelergy action counts, read back with independent parsers."""

import re

import pytest
import yaml

from power import analyze
from power.accelergy import action_counts_yaml
from power.saif import saif_text

from .conftest import HAND


def _sexp(text):
    """Minimal S-expression reader (SAIF is one): nested lists of tokens, backslash escapes kept."""
    tokens = re.findall(r'"[^"]*"|\(|\)|(?:\\.|[^\s()"])+', text)
    stack = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    assert len(stack) == 1
    return stack[0][0]


def _nets(node, path=()):
    if node[0] == "INSTANCE":
        for child in node[2:]:
            yield from _nets(child, (*path, node[1]))
    elif node[0] == "NET":
        for net in node[1:]:
            yield "/".join(path) + "/" + net[0], {k: int(v) for k, v in net[1:]}


def test_saif_of_the_hand_made_vcd(hand):
    a = analyze(*hand, detail=True)
    tree = _sexp(saif_text(a))
    assert tree[0] == "SAIFILE"
    header = {item[0]: item[1:] for item in tree[1:] if item[0] != "INSTANCE"}
    assert header["SAIFVERSION"] == ['"2.0"'] and header["DIVIDER"] == ["/"]
    assert header["TIMESCALE"] == ["1", "ns"] and header["DURATION"] == [str(HAND["end"])]
    nets = dict(_nets(next(item for item in tree[1:] if item[0] == "INSTANCE")))
    for name, counts in nets.items():   # every bit's times add up to the duration
        assert counts["T0"] + counts["T1"] + counts["TX"] == HAND["end"], name
    acc = [nets[f"tb/dut/u0/acc\\[{b}\\]"] for b in (3, 2, 1, 0)]
    assert [c["TC"] for c in acc] == [t // 2 for t in HAND["acc_bits_tog2"]]
    assert [c["T1"] for c in acc] == HAND["acc_bits_t1"] and [c["TX"] for c in acc] == HAND["acc_bits_tx"]
    assert nets["tb/dut/clk"] == {"T0": 25, "T1": 25, "TX": 0, "TC": 10}
    assert nets["tb/dut/u0/en"]["TC"] == 2


def test_saif_needs_detail(hand):
    with pytest.raises(ValueError, match="detail=True"):
        saif_text(analyze(*hand))


def test_action_counts_yaml(hand):
    a = analyze(*hand)
    doc = yaml.safe_load(action_counts_yaml(a))["action_counts"]
    assert doc["version"] == 0.4
    counts = {c["name"]: {x["name"]: x["counts"] for x in c["action_counts"]} for c in doc["local"]}
    # u0: 2 ops x (2 active, 3 gated, 5 cycles), 23 half toggles; memory m: 1 read
    assert counts == {"hpu.u0": {"op": 4, "gated_cycle": 6, "leak_cycle": 10, "bit_toggle": 11.5},
                      "hpu.m": {"read": 1, "write": 0}}
