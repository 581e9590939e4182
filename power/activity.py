"""Activity of an HPU run from its waveform: bit toggles per signal, active and gated cycles per unit.

The manifest (``docs/interfaces.md`` section 3) names each unit's clock
enable.  At every rising clock edge the enable is sampled just before the
edge (changes at the edge's own time step are not yet seen), the way a
clock-gating latch passes it on: 1 means the unit is clocked by that edge
(*active* cycle), anything else (0, X, Z) means it is *gated* (silent).  The
silent ratio is gated unit-cycles over total unit-cycles.

Toggles follow OpenSTA's ``read_vcd``: a bit changing between 0 and 1 counts
1, a change to or from X or Z counts 0.5, a signal's first value counts 0.
They are kept exactly, as integer half-toggles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hpu_model.manifest import UNIT_CLASSES, Manifest, Unit

from ._analyzer import Analyzer
from ._errors import VCDError
from ._scope import find_scope
from ._seal import check_seal
from ._vcd import open_reader

__all__ = ["UNIT_CLASSES", "Activity", "load_manifest", "find_scope", "analyze", "unit_weight"]



def load_manifest(manifest) -> Manifest:
    """Read (path) or take (dict or :class:`~hpu_model.manifest.Manifest`) a power manifest, validated."""
    return Manifest.read(manifest)


def unit_weight(unit: Unit) -> int:
    """Size of a unit for design-wide averages: datapath bit-operations per cycle (ops x bits)."""
    return max(1, unit.ops * unit.bits)


@dataclass
class Activity:
    """What one waveform says about one HPU run.  ``to_dict()`` gives the JSON form."""

    path: str
    reader: str
    scope: str
    manifest: Manifest
    seconds_per_unit: float | None
    end_time: int
    cycles: int
    clock_period: int | None
    signal_names: list[str]
    signal_widths: list[int]
    signal_toggles2: list[int]          # per signal, summed over bits, in half toggles
    signal_time1: list[int]             # bit-time at 1, summed over bits
    signal_timex: list[int]             # bit-time at X or Z (before the first value included)
    unit_active: dict[str, int]
    unit_toggles2: dict[str, int]         # every toggle in the unit's scope, enabled or not
    unit_gated_toggles2: dict[str, int]   # of those, in cycles the unit was gated (no operand isolation)
    other_toggles2: int                   # toggles in the design outside every unit scope (interconnect)
    memory_reads: dict[str, int]
    memory_writes: dict[str, int]
    window_cycles: int
    windows: dict[str, np.ndarray] = field(default_factory=dict)
    #: per bit (MSB first) half toggles, time at 1, time at X/Z; only with ``analyze(..., detail=True)``
    bit_toggles2: list[np.ndarray] | None = None
    bit_time1: list[np.ndarray] | None = None
    bit_timex: list[np.ndarray] | None = None
    #: per signal, its name parts relative to the scope (a leaf may hold a '.'; SAIF needs the real levels)
    signal_paths: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def unit_gated(self) -> dict[str, int]:
        return {u: self.cycles - a for u, a in self.unit_active.items()}

    def silent_ratio(self) -> dict:
        """Silent ratio per unit, per class and for the design (classes and design weighted by unit size)."""
        units = {u.name: u for u in self.manifest.units}
        per_unit = {n: (self.cycles - a) / self.cycles if self.cycles else 0.0 for n, a in self.unit_active.items()}
        per_class, design = {}, [0, 0]
        for cls in UNIT_CLASSES:
            members = [u for u in units.values() if u.cls == cls]
            if members:
                gated = sum(unit_weight(u) * (self.cycles - self.unit_active[u.name]) for u in members)
                total = sum(unit_weight(u) * self.cycles for u in members)
                per_class[cls] = gated / total if total else 0.0
                design[0] += gated
                design[1] += total
        return {"unit": per_unit, "class": per_class, "design": design[0] / design[1] if design[1] else 0.0}

    def to_dict(self) -> dict:
        """JSON-able summary (per-bit detail stays in the SAIF export)."""
        duration = self.end_time
        signals = {}
        for name, w, t2, t1, tx in zip(self.signal_names, self.signal_widths, self.signal_toggles2,
                                       self.signal_time1, self.signal_timex):
            signals[name] = {"width": w, "toggles": t2 / 2, "time_high": t1, "time_x": tx,
                             "time_low": w * duration - t1 - tx}
        return {
            "format": "hpu-power/1", "waveform": self.path, "reader": self.reader, "scope": self.scope,
            "seconds_per_time_unit": self.seconds_per_unit, "end_time": self.end_time,
            "cycles": self.cycles, "clock_period": self.clock_period,
            "units": {u.name: {"class": u.cls, "active": self.unit_active[u.name],
                               "gated": self.cycles - self.unit_active[u.name],
                               "toggles": self.unit_toggles2[u.name] / 2,
                               "toggles_while_gated": self.unit_gated_toggles2[u.name] / 2}
                      for u in self.manifest.units},
            "interconnect_toggles": self.other_toggles2 / 2,
            "memories": {m: {"reads": self.memory_reads[m], "writes": self.memory_writes[m]}
                         for m in self.memory_reads},
            "silent_ratio": self.silent_ratio(),
            "windows": {"cycles_per_window": self.window_cycles,
                        **{k: v.tolist() for k, v in self.windows.items()}},
            "signals": signals,
        }


def analyze(waveform, manifest, *, scope: str | None = None, reader: str = "auto",
            during: str | None = None, detail: bool = False) -> Activity:
    """Stream a waveform once and measure the activity of every manifest unit.

    Parameters
    ----------
    waveform : path
        VCD (or FST with the pywellen reader) of a run of the ``hpu`` design.
    manifest : path, dict or Manifest
        The power manifest written with the design (``hpu.manifest.json``).
    scope : str, optional
        Hierarchical path of the ``hpu`` instance (e.g. ``tb.dut``); found automatically
        when omitted.
    reader : {"auto", "numpy", "vcdvcd", "pywellen"}
        Waveform reader (``power._vcd``); all give identical results.
    during : str, optional
        A 1-bit signal (relative to the scope, e.g. ``busy``): count only cycles where it
        is 1 just before the edge.  Default: every rising clock edge in the file.
    detail : bool
        Also keep toggles and times per bit (needed for SAIF).  Per-signal totals are exact
        either way; without detail, groups of 0/1 values are counted with popcounts of packed
        rows instead of bit by bit, which is several times faster.

    Notes
    -----
    Signals' "time high" sums over bits (bit-time): a 4-bit bus holding 0b0011 for 10 time
    units adds 20.
    """
    manifest = load_manifest(manifest)
    rd = open_reader(waveform, reader)
    names = [n for s in rd.signals for n in s.names]
    scope = find_scope(names, manifest, scope, during)
    check_seal(waveform, manifest, scope)  # of this design, and a whole run: before the expensive pass
    sink = Analyzer(rd.signals, scope, manifest, during, detail)
    end_time = rd.run(sink, sink.wanted)
    sink.counter.finish(end_time)
    if sink.cycles == 0:  # else every ratio and energy would be a silent 0 of nothing
        clock = f"{scope}.{manifest.clock}" if scope else manifest.clock
        why = (f"no rising edge of clock {clock!r} (X/Z throughout, or no run in the file)" if sink.edges == 0
               else f"{during!r} is never 1 at a rising edge of {clock!r}")
        raise VCDError(f"{waveform}: no cycle to analyse: {why}")
    blind = [u.name for u, n in zip(manifest.units, sink.known) if n == 0]
    if blind:  # X/Z counts as gated: an enable never 0 or 1 would read as a unit 100 % silent
        raise VCDError(f"{waveform}: the enable of unit {blind[0]!r} is X/Z at every counted clock edge "
                       f"({len(blind)} of {len(manifest.units)} units): the waveform does not show them running")
    units = manifest.units
    n_u, n_m = len(units), len(sink.mem_ports)
    nwin = -(-max(sink.edges, 1) // sink.win.width)
    data = sink.win.data[:, :nwin]
    mems = manifest.memories
    per_mem = np.zeros((2, len(mems), nwin), np.int64)   # [read/write, memory, window]
    totals = np.zeros((2, len(mems)), np.int64)
    for p, (j, k) in enumerate(sink.port_of):
        per_mem[k, j] = data[2 * n_u + p]
        totals[k, j] = sink.mem[p]
    windows = {"cycles": data[2 * n_u + n_m], "unit_active": data[:n_u], "unit_toggles2": data[n_u:2 * n_u],
               "other_toggles2": data[2 * n_u + n_m + 1],
               "memory_reads": per_mem[0], "memory_writes": per_mem[1]}
    period = None
    if sink.edges > 1:
        period = (sink.last_edge - sink.first_edge) // (sink.edges - 1)
    order = sorted(sink.tracked, key=lambda i: sink.tracked[i])
    return Activity(
        path=str(waveform), reader=rd.name, scope=scope, manifest=manifest, seconds_per_unit=rd.seconds_per_unit,
        end_time=end_time, cycles=sink.cycles, clock_period=period,
        signal_names=[sink.tracked[i] for i in order], signal_widths=[sink.widths[i] for i in order],
        signal_paths=[sink.paths[i] for i in order],
        **dict(zip(("signal_toggles2", "signal_time1", "signal_timex"), sink.counter.totals(order))),
        unit_active={u.name: int(a) for u, a in zip(units, sink.active)},
        unit_toggles2={u.name: int(t) for u, t in zip(units, sink.unit_tog2)},
        unit_gated_toggles2={u.name: int(t) for u, t in zip(units, sink.gated_tog2)},
        other_toggles2=sink.other_tog2,
        memory_reads={m.name: int(totals[0, j]) for j, m in enumerate(mems)},
        memory_writes={m.name: int(totals[1, j]) for j, m in enumerate(mems)},
        window_cycles=sink.win.width, windows=windows,
        **(dict(zip(("bit_toggles2", "bit_time1", "bit_timex"), map(list, zip(*map(sink.counter.bits, order)))))
           if detail else {}),
    )
