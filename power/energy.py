"""Energy from activity with an Accelergy-style action table (``energy_45nm.toml`` by default).

Two entry points share one formula (:func:`_breakdown`):

``energy(activity)``
    From a waveform analysis: unit actions (active/gated/leakage cycles) plus
    switching energy for every bit toggle in each unit's scope and for every
    memory bit read or written (read/write enables sampled on the clock).
``from_activity(manifest, unit_active, cycles)``
    From the cycle model (``hpu_model.perf.predict(...).unit_active``): the
    same unit actions, but no toggle term (a cycle model knows no data), and
    memory energy only for memories whose name appears in ``unit_active``
    (taken as read cycles).  So it is a lower bound of the VCD path on the
    same run, and equal to it when the table's switching energies are zero.

Per unit, with ``ops`` from the manifest::

    op     = active x ops x E_op          gated = (cycles - active) x ops x E_gated_cycle
    leak   = cycles x ops x E_leak_cycle  toggle = bit toggles in the unit's scope x E_reg_bit_toggle

Not modelled (say so wherever the numbers are shown): glitches, wires and
interconnect, the clock tree and clock pins of flip-flops, I/O, DRAM.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import numpy as np

from hpu_model.artifacts import read_document
from hpu_model.manifest import UNIT_CLASSES, Manifest

from ._errors import EnergyTableError
from .activity import load_manifest

__all__ = ["DEFAULT_TABLE", "LEFT_OUT", "load_table", "energy", "from_activity", "window_energy"]

DEFAULT_TABLE = "energy_45nm.toml"
#: what the energy model leaves out; every report prints it
LEFT_OUT = ("glitches (zero-delay RTL simulation shows none)", "wires and interconnect capacitance",
            "the clock tree and flip-flop clock pins", "I/O and off-chip memory (DRAM)",
            "memory arrays' leakage and accesses Icarus does not dump beyond the manifest's enables")
_ACTIONS = ("op", "gated_cycle", "leak_cycle")
_SWITCHING = ("reg_bit_toggle", "mem_read_bit", "mem_write_bit")


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


def _breakdown(manifest: Manifest, active: dict, cycles: int, toggles2: dict | None, reads: dict, writes: dict,
               table: dict) -> dict:
    sw = table["switching"]
    units, classes = {}, {}
    for u in manifest.units:
        e = _class_actions(table, u.cls)
        a = active[u.name]
        if not 0 <= a <= cycles:
            raise EnergyTableError(f"unit {u.name!r}: {a} active cycles is not within 0..{cycles}")
        row = {"op": a * u.ops * e["op"], "gated": (cycles - a) * u.ops * e["gated_cycle"],
               "leak": cycles * u.ops * e["leak_cycle"],
               "toggle": (toggles2[u.name] / 2 * sw["reg_bit_toggle"]) if toggles2 is not None else 0.0}
        row["total"] = sum(row.values())
        units[u.name] = row
        acc = classes.setdefault(u.cls, dict.fromkeys(row, 0.0))
        for k, v in row.items():
            acc[k] += v
    memories = {}
    for m in manifest.memories:
        r, w = reads.get(m.name, 0), writes.get(m.name, 0)
        memories[m.name] = {"read": r * m.width * sw["mem_read_bit"], "write": w * m.width * sw["mem_write_bit"]}
    totals = {k: sum(row[k] for row in units.values()) for k in ("op", "gated", "leak", "toggle")}
    totals["memory"] = sum(v["read"] + v["write"] for v in memories.values())
    totals["total"] = sum(totals.values())
    return {"unit": "pJ", "table": table["table"]["name"], "units": units, "classes": classes,
            "memories": memories, "totals": totals, "left_out": list(LEFT_OUT)}


def energy(activity, table=None) -> dict:
    """Energy breakdown (pJ) of an analysed waveform: per unit, per class, memories, totals, per window."""
    table = load_table(table)
    out = _breakdown(activity.manifest, activity.unit_active, activity.cycles, activity.unit_toggles2,
                     activity.memory_reads, activity.memory_writes, table)
    out["windows"] = window_energy(activity, table).tolist()
    return out


def window_energy(activity, table=None) -> np.ndarray:
    """Energy (pJ) per time window of ``activity.windows`` (same formula, per window)."""
    table = load_table(table)
    w = activity.windows
    cyc = w["cycles"].astype(float)
    total = np.zeros(len(cyc))
    for k, u in enumerate(activity.manifest.units):
        e = _class_actions(table, u.cls)
        act = w["unit_active"][k].astype(float)
        total += u.ops * (act * e["op"] + (cyc - act) * e["gated_cycle"] + cyc * e["leak_cycle"])
        total += w["unit_toggles2"][k] / 2 * table["switching"]["reg_bit_toggle"]
    for k, m in enumerate(activity.manifest.memories):
        total += m.width * (w["memory_reads"][k] * table["switching"]["mem_read_bit"]
                               + w["memory_writes"][k] * table["switching"]["mem_write_bit"])
    return total


def from_activity(manifest: Manifest | dict, unit_active: dict[str, int], cycles: int, table=None) -> dict:
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

    Differences from :func:`energy`: no toggle term, and no memory energy unless given.
    """
    manifest = load_manifest(manifest)
    missing = [u.name for u in manifest.units if u.name not in unit_active]
    if missing:
        raise EnergyTableError(f"unit_active lacks unit {missing[0]!r} of the manifest ({len(missing)} missing)")
    reads = {m.name: unit_active[m.name] for m in manifest.memories if m.name in unit_active}
    return _breakdown(manifest, unit_active, int(cycles), None, reads, {}, load_table(table))
