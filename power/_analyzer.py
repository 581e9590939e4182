"""The chunk sink of :func:`power.analyze`: clock edges, unit enables, memory ports, toggles per unit.

At every rising clock edge the enable is sampled just before the edge (changes
at the edge's own time step are not yet seen), the way a clock-gating latch
passes it on.  Toggles are charged to the unit whose scope holds the signal
(the longest such scope), whatever its enable, and those falling in cycles
the unit was gated are counted apart; toggles outside every unit scope are
interconnect; the clock's are not charged.
"""

from __future__ import annotations

import numpy as np

from hpu_model.manifest import Manifest

from ._counters import ToggleCounter
from ._errors import ManifestError
from ._scope import PORTS
from ._vcd import CODE_0, CODE_1

__all__ = ["MAX_WINDOWS", "PORTS", "Analyzer"]

#: most time windows kept for the dark-silicon map; windows widen by doubling to stay under it
MAX_WINDOWS = 256


class _Windows:
    """Per-row counters over cycle windows that widen (by merging pairs) to stay within MAX_WINDOWS."""

    def __init__(self, rows: int):
        self.width = 1
        self.data = np.zeros((rows, MAX_WINDOWS), np.int64)

    def add(self, rows, cycles: np.ndarray, weights: np.ndarray) -> None:
        """Add ``weights`` at (row, cycle); ``rows`` is one row or an array like ``cycles``."""
        if cycles.size == 0:
            return
        top = int(cycles.max())
        while top >= self.width * MAX_WINDOWS:
            self.data = self.data.reshape(len(self.data), MAX_WINDOWS // 2, 2).sum(2)
            self.data = np.concatenate((self.data, np.zeros_like(self.data)), 1)
            self.width *= 2
        flat = np.asarray(rows) * MAX_WINDOWS + cycles // self.width
        self.data += np.bincount(flat.ravel() if flat.ndim else np.full(len(cycles), flat), weights=weights,
                                 minlength=self.data.size).astype(np.int64).reshape(self.data.shape)


class Analyzer:
    """The chunk sink: state carried between chunks, updated per width with vectorized numpy."""

    def __init__(self, signals, scope: str, manifest: Manifest, during: str | None, detail: bool):
        prefix = scope + "." if scope else ""
        self.detail = detail
        self.index: dict[str, int] = {}        # full name -> signal index (all names)
        for i, sig in enumerate(signals):
            for n in sig.names:
                self.index.setdefault(n, i)
        # signals analysed: every one with a name under the hpu scope; named by that name
        self.tracked: dict[int, str] = {}
        self.paths: dict[int, tuple[str, ...]] = {}
        depth = len(scope.split(".")) if scope else 0
        for i, sig in enumerate(signals):
            inside = [n for n in sig.names if n.startswith(prefix)]
            if inside and sig.counted:
                self.tracked[i] = inside[0][len(prefix):]
                parts = dict(zip(sig.names, sig.paths)).get(inside[0])
                self.paths[i] = parts[depth:] if parts else tuple(self.tracked[i].split("."))
        self.widths = {i: signals[i].width for i in self.tracked}
        self.wanted = np.zeros(len(signals), bool)
        self.wanted[list(self.tracked)] = True
        self.counter = ToggleCounter(self.widths, len(signals), detail)
        self.clock = self._single(prefix + manifest.clock, "clock")
        self.during = self._single(prefix + during, "run signal") if during else None
        units = manifest.units
        self.enables = [self._single(prefix + u.enable, f"enable of unit {u.name!r}") for u in units]
        # (memory index, 0 = read / 1 = write) per enable the manifest names
        mems = manifest.memories
        self.port_of = [(j, k) for j, m in enumerate(mems) for k, key in enumerate(PORTS) if getattr(m, key)]
        self.mem_ports = [self._single(prefix + getattr(mems[j], PORTS[k]), f"{PORTS[k]} of memory {mems[j].name!r}")
                          for j, k in self.port_of]
        # a signal belongs to the unit with the longest scope that contains it
        self.owner = np.full(len(signals), -1, np.int64)
        scope_of = {u.scope.strip("."): k for k, u in enumerate(units)}
        for i in self.tracked:
            best = -1, -1                                    # (scope depth, unit)
            for n in signals[i].names:
                if n.startswith(prefix):
                    parts = n[len(prefix):].split(".")
                    for depth in range(len(parts) - 1, 0, -1):
                        k = scope_of.get(".".join(parts[:depth]))
                        if k is not None:
                            best = max(best, (depth, k))
                            break
            self.owner[i] = best[1]
        self.sampled = [self.clock, *([self.during] if self.during is not None else []), *self.enables,
                        *self.mem_ports]
        self.level = {i: 2 for i in self.sampled}   # value before the next edge (2 = X until first value)
        self.edges = 0            # rising clock edges so far
        self.cycles = 0           # counted edges (during-signal high, or all)
        self.first_edge = self.last_edge = None
        self.n_units = len(units)
        self.active = np.zeros(len(units), np.int64)
        self.known = np.zeros(len(units), np.int64)   # counted edges where the unit's enable is 0 or 1
        self.mem = np.zeros(len(self.mem_ports), np.int64)
        self.unit_tog2 = np.zeros(len(units), np.int64)
        self.gated_tog2 = np.zeros(len(units), np.int64)   # toggles in cycles whose edge found the unit gated
        self.other_tog2 = 0                                  # toggles outside every unit scope (interconnect)
        self.owner[self.clock] = -2                          # the clock tree is not charged (LEFT_OUT)
        self.en_chunk = np.zeros((len(units), 0), bool)      # enable at each edge of the current chunk
        self.en_last = np.zeros(len(units), bool)            # enable at the last edge before it
        self.win = _Windows(2 * len(units) + len(self.mem_ports) + 2)

    def _single(self, name: str, what: str) -> int:
        i = self.index.get(name)
        if i is None:
            raise ManifestError(f"{what} {name!r} is not in the waveform")
        if i not in self.tracked or self.widths.get(i) != 1:
            raise ManifestError(f"{what} {name!r} must be a 1-bit signal inside the hpu scope")
        return i

    def _before(self, sig: int, one_bit, ranges, edge_t: np.ndarray) -> np.ndarray:
        """Value of a 1-bit signal just before each edge time (changes at the edge time not yet seen)."""
        lo, hi = ranges.get(sig, (0, 0))
        if hi > lo:
            k = np.searchsorted(one_bit[1][lo:hi], edge_t, side="left") - 1
            return np.where(k >= 0, one_bit[2][lo:hi, 0][np.maximum(k, 0)], self.level[sig]).astype(np.uint8)
        return np.full(len(edge_t), self.level[sig], np.uint8)

    def __call__(self, groups, last_time: int) -> None:
        one_bit = next(((s, t, c) for w, s, t, c in groups if w == 1), None)   # never split (see _vcd)
        ranges = {}
        if one_bit is not None:   # where each sampled signal's changes lie in the 1-bit group
            sampled = np.array(list(self.level))
            lo, hi = np.searchsorted(one_bit[0], sampled), np.searchsorted(one_bit[0], sampled + 1)
            ranges = {s: (a, b) for s, a, b in zip(sampled.tolist(), lo.tolist(), hi.tolist()) if b > a}
        edge_t = np.zeros(0, np.int64)
        if self.clock in ranges:
            lo, hi = ranges[self.clock]
            c = one_bit[2][lo:hi, 0]
            before = np.concatenate(([self.level[self.clock]], c[:-1]))
            edge_t = one_bit[1][lo:hi][(before == CODE_0) & (c == CODE_1)]
        self.en_chunk = np.zeros((self.n_units, len(edge_t)), bool)
        if len(edge_t):
            edge_idx = self.edges + np.arange(len(edge_t))
            counted = (self._before(self.during, one_bit, ranges, edge_t) == CODE_1
                       if self.during is not None else np.ones(len(edge_t), bool))
            self.cycles += int(counted.sum())
            self.first_edge = self.first_edge if self.first_edge is not None else int(edge_t[0])
            self.last_edge = int(edge_t[-1])
            self.win.add(2 * self.n_units + len(self.mem_ports), edge_idx, counted)
            for counts, row0, sigs in ((self.active, 0, self.enables),
                                       (self.mem, 2 * self.n_units, self.mem_ports)):
                for k, sig in enumerate(sigs):
                    level = self._before(sig, one_bit, ranges, edge_t)
                    on = (level == CODE_1) & counted
                    counts[k] += int(on.sum())
                    self.win.add(row0 + k, edge_idx, on)
                    if sigs is self.enables:
                        self.known[k] += int(((level == CODE_0) | (level == CODE_1))[counted].sum())
                        self.en_chunk[k] = level == CODE_1
        for sig, (_, hi) in ranges.items():
            self.level[sig] = int(one_bit[2][hi - 1, 0])
        for width, sigs, times, codes in groups:
            keep = self.wanted[sigs]
            if not keep.all():
                sigs, times, codes = sigs[keep], times[keep], codes[keep]
            if len(sigs):
                self._attribute(sigs, times, self.counter.update(width, sigs, times, codes), edge_t)
        self.edges += len(edge_t)
        if len(edge_t):
            self.en_last = self.en_chunk[:, -1]

    def _attribute(self, sigs, times, tog2, edge_t) -> None:
        """Charge each change's toggles to its unit (enabled or not) or to the interconnect."""
        owner = self.owner[sigs]
        moved = tog2 > 0                              # changes without toggles add nothing to windows
        if not moved.any():
            return
        local = np.searchsorted(edge_t, times, side="right") - 1   # the edge whose cycle the change is in
        cyc = np.maximum(self.edges + local, 0)
        mine = moved & (owner >= 0)
        if mine.any():
            per_change, ow, li = tog2[mine], owner[mine], local[mine]
            self.unit_tog2 += np.bincount(ow, weights=per_change, minlength=self.n_units).astype(np.int64)
            self.win.add(self.n_units + ow, cyc[mine], per_change)
            en = self.en_last[ow]
            if len(edge_t):
                en = np.where(li >= 0, self.en_chunk[ow, np.maximum(li, 0)], en)
            self.gated_tog2 += np.bincount(ow[~en], weights=per_change[~en], minlength=self.n_units).astype(np.int64)
        rest = moved & (owner == -1)
        if rest.any():
            self.other_tog2 += int(tog2[rest].sum())
            self.win.add(2 * self.n_units + len(self.mem_ports) + 1, cyc[rest], tog2[rest])
