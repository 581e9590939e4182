"""Drive one Amaranth component cycle by cycle: set inputs, tick, read outputs."""

from __future__ import annotations

from amaranth.sim import Simulator


def run_unit(dut, cycles, read, *, clocked: bool = True):
    """Apply ``cycles`` (a list of {port name: value}) one per clock and return what ``read`` saw.

    ``read(get)`` is called in every cycle after its inputs are set (so comb
    outputs belong to that cycle and registers show the previous edge), and
    once more after the last edge: len(cycles) + 1 results.  Ports not named
    in a cycle keep their value; names may index arrays, e.g. ``"s[2]"``.  ``clocked=False`` drives a
    purely combinational unit (no clock domain): one settle step per "cycle".
    """
    out = []

    async def bench(ctx):
        def get(name):
            return ctx.get(_port(dut, name))
        for inputs in cycles:
            for name, value in inputs.items():
                ctx.set(_port(dut, name), value)
            out.append(read(get))
            await (ctx.tick() if clocked else ctx.delay(1e-8))
        out.append(read(get))

    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


def _port(dut, name: str):
    obj = dut
    for part in name.replace("]", "").split("."):
        base, _, idx = part.partition("[")
        obj = getattr(obj, base)
        for i in filter(None, idx.split("[")):
            obj = obj[int(i)]
    return obj
