"""SAIF against a strict grammar (the subset of SAIF 2.0 OpenSTA's read_saif lexes and parses), always run.

OpenSTA itself loads the SAIF of a real HPU run in tests/power/test_hpu.py (when `sta` can run).
"""

import re

import pytest

from power import analyze
from power.saif import saif, saif_name

from .conftest import hand_manifest

#: OpenSTA's SAIF identifiers: a letter or '_' first, then letters, digits, '_' or backslash-escaped characters
IDENT = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_]|\\[^\s])*")
TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<str>"[^"]*")|(?P<word>[^\s()"]+))')


def parse(text):
    pos, stack = 0, [[]]
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip():
                raise AssertionError(f"cannot lex at {text[pos:pos + 30]!r}")
            break
        pos = m.end()
        if m["open"]:
            stack.append([])
        elif m["close"]:
            done = stack.pop()
            stack[-1].append(done)
        elif m["str"] or m["word"]:
            stack[-1].append(m["str"] or m["word"])
    assert len(stack) == 1 and len(stack[0]) == 1, "unbalanced parentheses"
    return stack[0][0]


def check(tree):
    """Walk a SAIF tree by the grammar; returns {net path: (T0, T1, TX, TC)} and the header."""
    assert tree[0] == "SAIFILE"
    header, nets = {}, {}
    for item in tree[1:]:
        if item[0] != "INSTANCE":
            header[item[0]] = item[1:]
    assert header["SAIFVERSION"] == ['"2.0"'] and header["DIRECTION"] == ['"backward"']
    assert header["DIVIDER"] == ["/"]
    n, unit = header["TIMESCALE"]
    assert n in ("1", "10", "100") and unit in ("us", "ns", "ps")    # what OpenSTA accepts
    duration = int(header["DURATION"][0])

    def walk(node, path):
        assert node[0] == "INSTANCE" and IDENT.fullmatch(node[1]), node[:2]
        for child in node[2:]:
            if child[0] == "INSTANCE":
                walk(child, (*path, node[1]))
            else:
                assert child[0] == "NET"
                for net in child[1:]:
                    assert IDENT.fullmatch(net[0]), net[0]
                    counts = {k: int(v) for k, v in net[1:]}
                    assert set(counts) == {"T0", "T1", "TX", "TC"} and min(counts.values()) >= 0
                    assert counts["T0"] + counts["T1"] + counts["TX"] == duration, net
                    nets["/".join((*path, node[1], net[0]))] = counts
    for item in tree[1:]:
        if item[0] == "INSTANCE":
            walk(item, ())
    return nets, header


ODD_VCD = r"""$timescale 1s $end
$scope module tb $end
$scope module dut $end
$var wire 1 ! clk $end
$var wire 1 " u0.en $end
$var wire 4 # \acc.x [3:0] $end
$var wire 1 $ \$101 $end
$var wire 2 % \a[1] [1:0] $end
$scope module u0 $end
$var wire 1 " en $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
0!
0"
b0 #
0$
b0 %
#1
1!
1"
b11 #
1$
#2
0!
b1 %
#3
1!
0"
#4
"""


def test_escaped_dotted_and_unlexable_names_and_a_1s_timescale(tmp_path):
    vcd = tmp_path / "odd.vcd"
    vcd.write_text(ODD_VCD)
    man = hand_manifest(memories=[])
    doc = saif(analyze(vcd, man, detail=True))
    nets, header = check(parse(doc.text))
    assert header["TIMESCALE"] == ["1", "us"] and header["DURATION"] == ["4000000"]   # 4 s in us, exactly
    # '\acc.x' is one net, not a level acc with a net x
    assert nets["tb/dut/acc\\.x\\[0\\]"] == {"T0": 1_000_000, "T1": 3_000_000, "TX": 0, "TC": 1}
    assert nets["tb/dut/acc\\.x\\[3\\]"]["TC"] == 0
    assert nets["tb/dut/a\\[1\\]\\[0\\]"]["TC"] == 1 and nets["tb/dut/u0/en"]["TC"] == 2
    assert doc.left_out == ("\\$101",) and doc.nets == len(nets) == 1 + 1 + 4 + 2   # clk, en, acc.x, a[1]


def test_hand_vcd_grammar(hand):
    nets, header = check(parse(saif(analyze(*hand, detail=True)).text))
    assert header["TIMESCALE"] == ["1", "ns"] and len(nets) == 1 + 1 + 1 + 4 + 4   # clk, mem_rd, en, acc, w


@pytest.mark.parametrize("name, want", [("acc", "acc"), ("\\$101", None), ("\\a.b", "a\\.b"), ("3x", None),
                                        ("_t$1", "_t\\$1"), ("\\port$5443$0 ", "port\\$5443\\$0")])
def test_saif_names(name, want):
    assert saif_name(name) == want
