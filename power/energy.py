"""Energy from activity with an Accelergy-style action table (``energy_45nm.toml`` by default).

Two entry points share one formula (:func:`_energy_of`, evaluated on totals or per time window):

``energy(activity)``
    From a waveform analysis: unit actions (active/gated/leakage cycles),
    switching energy for every bit toggle in each unit's scope *whatever its
    enable* (operands that toggle in a gated cycle, i.e. missing operand
    isolation, cost energy), every toggle in the design outside every unit
    scope (``interconnect``: control, muxes, glue), and every memory access.
``from_activity(manifest, unit_active, cycles)``
    From the cycle model (``hpu_model.perf.predict(...).unit_active``): the
    same unit actions, and toggles *predicted* at activity factor 1/2 (each
    of a unit's ``reg_bits`` flip-flops toggles with probability 1/2 per
    active cycle; a cycle model knows no data); memory energy only for
    memories whose name appears in ``unit_active`` (taken as read cycles).
    docs/power.md states how far it lands from the simulated energy.

Per unit, with ``ops`` from the manifest and the energies scaled to the unit's width (below)::

    op     = active x ops x E_op          gated = (cycles - active) x ops x E_gated_cycle
    leak   = cycles x ops x E_leak_cycle  toggle = bit toggles in the unit's scope x E_reg_bit_toggle

Size rule (one rule, docs/power.md): a class's energies are given for a
reference width ``ref_bits``; a unit of ``bits`` scales them by
``bits / ref_bits`` (``scaling = "width"``: adders, comparators, divider
steps, registers, control) or by ``a x b / ref_bits^2`` (``"product"``:
multipliers, with the manifest's ``operand_bits`` a, b, else bits x bits).
Horowitz' own numbers check it: the product rule takes the 8-bit multiply
(0.2 pJ) to 3.2 pJ at 32 bits (measured 3.1), the width rule the 8-bit add
(0.03 pJ) to 0.12 pJ (measured 0.1).  Memory access energy per bit scales
with the square root of the array's size, ``sqrt(width x depth / 8 / mem_ref_bytes)``
(the table's 8 KB -> 32 KB -> 1 MB figures: 10 -> 20 -> 100 pJ, i.e. sqrt).
A class without ``ref_bits`` is not scaled.

Not modelled (say so wherever the numbers are shown): glitches, wire
capacitance, the clock tree and clock pins of flip-flops, I/O, DRAM.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np

from hpu_model.artifacts import read_document
from hpu_model.manifest import UNIT_CLASSES, Manifest

from ._errors import EnergyTableError
from .activity import load_manifest

__all__ = ["DEFAULT_TABLE", "LEFT_OUT", "load_table", "energy", "from_activity", "window_energy", "size_factor",
           "memory_factor", "Calibration", "calibrate"]

DEFAULT_TABLE = "energy_45nm.toml"
#: what the energy model leaves out; every report prints it
LEFT_OUT = ("glitches (zero-delay RTL simulation shows none)", "wire capacitance (interconnect toggles are charged "
            "as register bits)",
            "the clock tree and flip-flop clock pins", "I/O and off-chip memory (DRAM)",
            "memory arrays' leakage and accesses Icarus does not dump beyond the manifest's enables")
_ACTIONS = ("op", "gated_cycle", "leak_cycle")
_SWITCHING = ("reg_bit_toggle", "mem_read_bit", "mem_write_bit")
_SCALINGS = ("width", "product")


def load_table(table=None) -> dict:
    """Read an energy table (TOML path, dict or None for the default 45 nm table) and check it."""
    where = "default energy table"
    if table is None:
        text = resources.files("power").joinpath(DEFAULT_TABLE).read_text()
        table = tomllib.loads(text)
    elif not isinstance(table, dict):
        where = str(table)
        table = read_document(table, "energy table", EnergyTableError, fmt="toml")
    sw = table.get("switching")
    classes = table.get("class")
    if not isinstance(sw, dict) or not isinstance(classes, dict):
        raise EnergyTableError(f"{where}: needs a [switching] table and [class.<name>] tables")
    checks = [("switching", k, sw.get(k)) for k in _SWITCHING]
    checks += [(f"class.{c}", a, v.get(a) if isinstance(v, dict) else None) for c, v in classes.items()
               for a in _ACTIONS]
    for section, key, value in checks:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
            raise EnergyTableError(f"{where}: [{section}] {key} is {value!r}; expected an energy >= 0 in pJ")
    for c, v in classes.items():
        ref, rule = v.get("ref_bits"), v.get("scaling", "width")
        if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool) or ref < 1):
            raise EnergyTableError(f"{where}: [class.{c}] ref_bits is {ref!r}; expected a width >= 1 in bits")
        if rule not in _SCALINGS:
            raise EnergyTableError(f"{where}: [class.{c}] scaling is {rule!r}; allowed: {', '.join(_SCALINGS)}")
    ref_bytes = sw.get("mem_ref_bytes")
    if ref_bytes is not None and (not isinstance(ref_bytes, (int, float)) or isinstance(ref_bytes, bool)
                                  or not 0 < ref_bytes < math.inf):
        raise EnergyTableError(f"{where}: [switching] mem_ref_bytes is {ref_bytes!r}; expected a size > 0 in bytes")
    unknown = sorted(set(classes) - set(UNIT_CLASSES))
    if unknown:
        raise EnergyTableError(f"{where}: unknown unit class {unknown[0]!r}; allowed: {', '.join(UNIT_CLASSES)}")
    table.setdefault("table", {}).setdefault("name", where)
    return table


def _class_actions(table: dict, cls: str) -> dict:
    try:
        return table["class"][cls]
    except KeyError:
        raise EnergyTableError(f"energy table {table['table']['name']!r} has no [class.{cls}] "
                               "but the manifest has a unit of that class") from None


def size_factor(table: dict, unit) -> float:
    """How much a unit's per-op energies differ from its class's reference width (the size rule)."""
    e = _class_actions(table, unit.cls)
    ref = e.get("ref_bits")
    if ref is None:
        return 1.0
    if e.get("scaling", "width") == "product":
        a, b = unit.operand_bits or (unit.bits, unit.bits)
        return a * b / ref ** 2
    return unit.bits / ref


def memory_factor(table: dict, memory) -> float:
    """Access energy per bit of ``memory`` over the table's ``mem_read_bit`` (square root of size)."""
    ref = table["switching"].get("mem_ref_bytes")
    return 1.0 if ref is None else math.sqrt(memory.width * memory.depth / 8 / ref)


def _energy_of(manifest: Manifest, table: dict, active, cycles, toggles2, reads, writes, other2=0) -> dict:
    """The formula, on numbers or numpy arrays (per window): per unit rows, per memory, interconnect."""
    sw = table["switching"]
    units = {}
    for k, u in enumerate(manifest.units):
        e, f = _class_actions(table, u.cls), size_factor(table, u)
        a = active[k]
        units[u.name] = {"op": a * u.ops * e["op"] * f, "gated": (cycles - a) * u.ops * e["gated_cycle"] * f,
                         "leak": cycles * u.ops * e["leak_cycle"] * f, "toggle": toggles2[k] / 2 * sw["reg_bit_toggle"]}
    memories = {}
    for j, m in enumerate(manifest.memories):
        f = m.width * memory_factor(table, m)
        memories[m.name] = {"read": reads[j] * f * sw["mem_read_bit"], "write": writes[j] * f * sw["mem_write_bit"]}
    return {"units": units, "memories": memories, "interconnect": other2 / 2 * sw["reg_bit_toggle"]}


def _breakdown(manifest: Manifest, active: dict, cycles: int, toggles2: list, reads: dict, writes: dict,
               table: dict, other2: int = 0, area: dict | None = None) -> dict:
    for u in manifest.units:
        if not 0 <= active[u.name] <= cycles:
            raise EnergyTableError(f"unit {u.name!r}: {active[u.name]} active cycles is not within 0..{cycles}")
    parts = _energy_of(manifest, table, [active[u.name] for u in manifest.units], cycles, toggles2,
                       [reads.get(m.name, 0) for m in manifest.memories],
                       [writes.get(m.name, 0) for m in manifest.memories], other2)
    units, classes = parts["units"], {}
    for u in manifest.units:
        row = units[u.name]
        row["total"] = sum(row.values())
        acc = classes.setdefault(u.cls, dict.fromkeys(row, 0.0))
        for k, v in row.items():
            acc[k] += v
        if area is not None:
            row["area_transistors"] = area["units"][u.name]["transistors"]
    memories = parts["memories"]
    totals = {k: sum(row[k] for row in units.values()) for k in ("op", "gated", "leak", "toggle")}
    totals["memory"] = sum(v["read"] + v["write"] for v in memories.values())
    totals["interconnect"] = parts["interconnect"]
    totals["total"] = sum(totals.values())
    return {"unit": "pJ", "table": table["table"]["name"], "units": units, "classes": classes,
            "memories": memories, "totals": totals, "left_out": list(LEFT_OUT)}


def energy(activity, table=None, area: dict | None = None) -> dict:
    """Energy breakdown (pJ) of an analysed waveform: per unit, per class, memories, totals, per window.

    ``area`` (from :func:`power.netlist.unit_area`) adds each unit's area beside its energy.
    """
    table = load_table(table)
    units = activity.manifest.units
    out = _breakdown(activity.manifest, activity.unit_active, activity.cycles,
                     [activity.unit_toggles2[u.name] for u in units], activity.memory_reads, activity.memory_writes,
                     table, activity.other_toggles2, area)
    out["windows"] = window_energy(activity, table).tolist()
    return out


def window_energy(activity, table=None) -> np.ndarray:
    """Energy (pJ) per time window of ``activity.windows`` (the same formula, per window)."""
    table = load_table(table)
    w = activity.windows
    cyc = w["cycles"].astype(float)
    parts = _energy_of(activity.manifest, table, w["unit_active"].astype(float), cyc, w["unit_toggles2"],
                       w["memory_reads"], w["memory_writes"], w.get("other_toggles2", 0))
    total = np.zeros(len(cyc)) + parts["interconnect"]
    for row in [*parts["units"].values(), *parts["memories"].values()]:
        for v in row.values():
            total = total + v
    return total


@dataclass(frozen=True)
class Calibration:
    """Switching energy of one simulated run, per unit active cycle and per cycle (:func:`calibrate`).

    The cycle model knows when each unit is active, not what its data do: a calibration run's waveform
    gives each unit's toggle energy per active cycle, and the memory and interconnect energy per cycle,
    which :func:`from_activity` then applies to other runs of the same design (docs/power.md states how
    close that lands, measured).
    """

    toggle_per_active: dict[str, float | None]   # pJ per active cycle, per unit (None: never active)
    toggle_per_gated: dict[str, float]           # pJ per gated cycle (operands not isolated), per unit
    other_per_cycle: float                       # memories + interconnect, pJ per cycle
    source: str = ""

    def to_json(self) -> dict:
        return {"toggle_per_active": self.toggle_per_active, "toggle_per_gated": self.toggle_per_gated,
                "other_per_cycle": self.other_per_cycle, "source": self.source}

    @classmethod
    def read(cls, path) -> Calibration:
        """The calibration in a run record (``hpu power --json``)."""
        rec = read_document(path, "run record", EnergyTableError)
        cal = rec.get("calibration") if isinstance(rec, dict) else None
        try:
            return cls(dict(cal["toggle_per_active"]), dict(cal["toggle_per_gated"]), float(cal["other_per_cycle"]),
                       str(cal.get("source", path)))
        except (TypeError, KeyError, ValueError):
            raise EnergyTableError(f"{path}: no calibration in it (write one with hpu power ... --json FILE)") from None


def calibrate(activity, table=None) -> Calibration:
    """The :class:`Calibration` of an analysed waveform (a run of the design the predictions are for)."""
    table = load_table(table)
    bit = table["switching"]["reg_bit_toggle"] / 2          # pJ per half toggle
    active, gated = {}, {}
    for u in activity.manifest.units:
        a, g2 = activity.unit_active[u.name], activity.unit_gated_toggles2[u.name]
        on2 = activity.unit_toggles2[u.name] - g2
        active[u.name] = on2 * bit / a if a else None
        gated[u.name] = g2 * bit / max(activity.cycles - a, 1)
    e = energy(activity, table)
    other = (e["totals"]["memory"] + e["totals"]["interconnect"]) / max(activity.cycles, 1)
    return Calibration(active, gated, other, activity.path)


def from_activity(manifest: Manifest | dict, unit_active: dict[str, int], cycles: int, table=None,
                  calibration: Calibration | None = None) -> dict:
    """Energy breakdown (pJ) without a waveform, e.g. from the cycle model's ``unit_active``.

    Parameters
    ----------
    manifest : Manifest, dict or path
        The power manifest of the design.
    unit_active : dict
        Active cycles per unit name (every manifest unit must be present); an entry named
        like a manifest memory is taken as that memory's read cycles.
    cycles : int
        Cycles of the run (each unit is active or gated in each of them).

    Differences from :func:`energy`: toggles predicted (``reg_bits`` / 2 per active cycle), no
    interconnect term, and no memory energy unless given; with ``calibration`` (:func:`calibrate` on a
    simulated run of the same design) toggles, memories and interconnect come from its rates instead.
    """
    manifest = load_manifest(manifest)
    missing = [u.name for u in manifest.units if u.name not in unit_active]
    if missing:
        raise EnergyTableError(f"unit_active lacks unit {missing[0]!r} of the manifest ({len(missing)} missing)")
    reads = {m.name: unit_active[m.name] for m in manifest.memories if m.name in unit_active}
    table = load_table(table)
    if calibration is None:
        toggles2 = [unit_active[u.name] * u.reg_bits for u in manifest.units]   # half toggles: 2 x reg_bits / 2
        return _breakdown(manifest, unit_active, int(cycles), toggles2, reads, {}, table)
    lost = [u.name for u in manifest.units if u.name not in calibration.toggle_per_active]
    if lost:
        raise EnergyTableError(f"the calibration ({calibration.source}) has no unit {lost[0]!r}: another design")
    out = _breakdown(manifest, unit_active, int(cycles), [0] * len(manifest.units), {}, {}, table)
    bit = table["switching"]["reg_bit_toggle"]
    for u in manifest.units:
        row = out["units"][u.name]
        a = unit_active[u.name]
        per_active = calibration.toggle_per_active[u.name]
        if per_active is None:   # never active in the calibration run: activity factor 1/2 of its flip-flops
            per_active = u.reg_bits / 2 * bit
        row["toggle"] = per_active * a + calibration.toggle_per_gated[u.name] * (int(cycles) - a)
        row["total"] = row["op"] + row["gated"] + row["leak"] + row["toggle"]
        out["classes"][u.cls]["toggle"] += row["toggle"]
        out["classes"][u.cls]["total"] += row["toggle"]
    t = out["totals"]
    t["toggle"] = sum(out["units"][u.name]["toggle"] for u in manifest.units)
    t["memory"], t["interconnect"] = calibration.other_per_cycle * int(cycles), 0.0
    t["total"] = t["op"] + t["gated"] + t["leak"] + t["toggle"] + t["memory"]
    out["calibration"] = calibration.source
    return out
