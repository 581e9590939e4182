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

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import ManifestError
from ._vcd import CODE_0, CODE_1, open_reader

__all__ = ["UNIT_CLASSES", "Activity", "load_manifest", "find_scope", "analyze", "unit_weight"]

#: unit classes of the manifest schema, in the order reports list them
UNIT_CLASSES = ("mac8", "mul", "add32", "cmp", "lut_read", "div", "reg", "ctrl")
_UNIT_KEYS = {"name": str, "scope": str, "enable": str, "class": str, "ops": int, "bits": int, "reg_bits": int}
_MEM_KEYS = {"name": str, "scope": str, "read_enable": str, "write_enable": str, "width": int, "depth": int}
#: most time windows kept for the dark-silicon map; windows widen by doubling to stay under it
MAX_WINDOWS = 256


def load_manifest(manifest) -> dict:
    """Read (path) or take (dict) a power manifest and check it against the schema."""
    where = "manifest"
    if not isinstance(manifest, dict):
        where = str(manifest)
        try:
            manifest = json.loads(Path(manifest).read_text())
        except FileNotFoundError:
            raise ManifestError(f"{where}: no such manifest file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{where}: not JSON ({exc})") from None
    if manifest.get("format") != "hpu-manifest/1":
        raise ManifestError(f"{where}: format is {manifest.get('format')!r}, expected 'hpu-manifest/1'")
    if not isinstance(manifest.get("clock"), str):
        raise ManifestError(f"{where}: 'clock' must name the clock signal")
    for kind, keys in (("units", _UNIT_KEYS), ("memories", _MEM_KEYS)):
        entries = manifest.get(kind, [] if kind == "memories" else None)
        if not isinstance(entries, list) or (kind == "units" and not entries):
            raise ManifestError(f"{where}: '{kind}' must be a {'non-empty ' if kind == 'units' else ''}list")
        names = set()
        for i, entry in enumerate(entries):
            for key, typ in keys.items():
                value = entry.get(key) if isinstance(entry, dict) else None
                if not isinstance(value, typ) or isinstance(value, bool) or (typ is int and value < 0):
                    raise ManifestError(f"{where}: {kind}[{i}].{key} is {value!r}; expected "
                                        f"{'a non-negative integer' if typ is int else 'a string'}")
            if kind == "units" and entry["class"] not in UNIT_CLASSES:
                raise ManifestError(f"{where}: unit {entry['name']!r} has class {entry['class']!r}; "
                                    f"allowed: {', '.join(UNIT_CLASSES)}")
            if entry["name"] in names:
                raise ManifestError(f"{where}: {kind} name {entry['name']!r} appears twice")
            names.add(entry["name"])
    manifest.setdefault("memories", [])
    return manifest


def unit_weight(unit: dict) -> int:
    """Size of a unit for design-wide averages: datapath bit-operations per cycle (ops x bits)."""
    return max(1, unit["ops"] * unit["bits"])


def _required(manifest: dict, during: str | None) -> list[str]:
    names = [manifest["clock"], *(u["enable"] for u in manifest["units"])]
    names += [m[k] for m in manifest["memories"] for k in ("read_enable", "write_enable")]
    return names + ([during] if during else [])


def find_scope(names, manifest: dict, scope: str | None = None, during: str | None = None) -> str:
    """The hierarchical path of the ``hpu`` instance in a waveform (e.g. ``tb.dut``).

    Parameters
    ----------
    names : collection of str
        Every full signal name in the waveform.
    scope : str, optional
        The user's choice; checked, not searched.

    Raises
    ------
    ManifestError
        When no scope holds every signal the manifest names (the message names the
        first one missing), or when several do and ``scope`` was not given.
    """
    names = set(names)
    required = _required(manifest, during)

    def missing(prefix):
        return [r for r in required if (f"{prefix}.{r}" if prefix else r) not in names]

    if scope is not None:
        scope = scope.strip(".")
        lost = missing(scope)
        if lost:
            raise ManifestError(f"signal {(scope + '.' if scope else '') + lost[0]!r} named by the manifest is "
                                f"not in the waveform ({len(lost)} of {len(required)} missing under scope {scope!r})")
        return scope
    anchor = manifest["units"][0]["enable"]
    candidates = sorted({n[: -len(anchor) - 1] for n in names if n.endswith("." + anchor)} |
                        ({""} if anchor in names else set()))
    if not candidates:
        raise ManifestError(f"no signal ending in {anchor!r} (enable of unit {manifest['units'][0]['name']!r}) "
                            "in the waveform: is it a VCD of this design, dumped with the unit enables?")
    full = [c for c in candidates if not missing(c)]
    if len(full) > 1:
        raise ManifestError(f"several instances fit the manifest: {', '.join(full)}; choose one with --scope")
    if not full:
        best = min(candidates, key=lambda c: len(missing(c)))
        lost = missing(best)
        raise ManifestError(f"signal {(best + '.' if best else '') + lost[0]!r} named by the manifest is not in "
                            f"the waveform ({len(lost)} of {len(required)} missing under scope {best!r})")
    return full[0]


class _Windows:
    """Per-row counters over cycle windows that widen (by merging pairs) to stay within MAX_WINDOWS."""

    def __init__(self, rows: int):
        self.width = 1
        self.data = np.zeros((rows, MAX_WINDOWS), np.int64)

    def add(self, row: int, cycles: np.ndarray, weights: np.ndarray) -> None:
        if cycles.size == 0:
            return
        top = int(cycles.max())
        while top >= self.width * MAX_WINDOWS:
            self.data = self.data.reshape(len(self.data), MAX_WINDOWS // 2, 2).sum(2)
            self.data = np.concatenate((self.data, np.zeros_like(self.data)), 1)
            self.width *= 2
        self.data[row] += np.bincount(cycles // self.width, weights=weights, minlength=MAX_WINDOWS).astype(np.int64)


@dataclass
class Activity:
    """What one waveform says about one HPU run.  ``to_dict()`` gives the JSON form."""

    path: str
    reader: str
    scope: str
    manifest: dict
    seconds_per_unit: float | None
    end_time: int
    cycles: int
    clock_period: int | None
    signal_names: list[str]
    signal_widths: list[int]
    bit_toggles2: list[np.ndarray]      # per bit, in half toggles, MSB first
    bit_time1: list[np.ndarray]         # time at 1 per bit
    bit_timex: list[np.ndarray]         # time at X or Z per bit (before the first value included)
    unit_active: dict[str, int]
    unit_toggles2: dict[str, int]
    memory_reads: dict[str, int]
    memory_writes: dict[str, int]
    window_cycles: int
    windows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def unit_gated(self) -> dict[str, int]:
        return {u: self.cycles - a for u, a in self.unit_active.items()}

    def silent_ratio(self) -> dict:
        """Silent ratio per unit, per class and for the design (classes and design weighted by unit size)."""
        units = {u["name"]: u for u in self.manifest["units"]}
        per_unit = {n: (self.cycles - a) / self.cycles if self.cycles else 0.0 for n, a in self.unit_active.items()}
        per_class, design = {}, [0, 0]
        for cls in UNIT_CLASSES:
            members = [u for u in units.values() if u["class"] == cls]
            if members:
                gated = sum(unit_weight(u) * (self.cycles - self.unit_active[u["name"]]) for u in members)
                total = sum(unit_weight(u) * self.cycles for u in members)
                per_class[cls] = gated / total if total else 0.0
                design[0] += gated
                design[1] += total
        return {"unit": per_unit, "class": per_class, "design": design[0] / design[1] if design[1] else 0.0}

    def to_dict(self) -> dict:
        """JSON-able summary (per-bit detail stays in the SAIF export)."""
        duration = self.end_time
        signals = {}
        for name, w, t2, t1, tx in zip(self.signal_names, self.signal_widths, self.bit_toggles2, self.bit_time1,
                                       self.bit_timex):
            signals[name] = {"width": w, "toggles": int(t2.sum()) / 2, "time_high": int(t1.sum()),
                             "time_x": int(tx.sum()), "time_low": int(w * duration - t1.sum() - tx.sum())}
        return {
            "format": "hpu-power/1", "waveform": self.path, "reader": self.reader, "scope": self.scope,
            "seconds_per_time_unit": self.seconds_per_unit, "end_time": self.end_time,
            "cycles": self.cycles, "clock_period": self.clock_period,
            "units": {u["name"]: {"class": u["class"], "active": self.unit_active[u["name"]],
                                  "gated": self.cycles - self.unit_active[u["name"]],
                                  "toggles": self.unit_toggles2[u["name"]] / 2} for u in self.manifest["units"]},
            "memories": {m: {"reads": self.memory_reads[m], "writes": self.memory_writes[m]}
                         for m in self.memory_reads},
            "silent_ratio": self.silent_ratio(),
            "windows": {"cycles_per_window": self.window_cycles,
                        **{k: v.tolist() for k, v in self.windows.items()}},
            "signals": signals,
        }


class _Analyzer:
    """The chunk sink: state carried between chunks, updated with vectorized numpy per batch."""

    def __init__(self, signals, scope: str, manifest: dict, during: str | None):
        prefix = scope + "." if scope else ""
        self.index: dict[str, int] = {}        # full name -> signal index (all names)
        for i, sig in enumerate(signals):
            for n in sig.names:
                self.index.setdefault(n, i)
        # signals analysed: every one with a name under the hpu scope; name it by that name
        self.tracked: dict[int, str] = {}
        for i, sig in enumerate(signals):
            inside = [n for n in sig.names if n.startswith(prefix)]
            if inside and sig.kind not in ("real", "string"):
                self.tracked[i] = inside[0][len(prefix):]
        self.widths = {i: signals[i].width for i in self.tracked}
        self.clock = self._single(prefix + manifest["clock"], "clock")
        self.during = self._single(prefix + during, "run signal") if during else None
        units = manifest["units"]
        self.enables = [self._single(prefix + u["enable"], f"enable of unit {u['name']!r}") for u in units]
        mems = manifest["memories"]
        self.mem_ports = [self._single(prefix + m[k], f"{k} of memory {m['name']!r}")
                          for m in mems for k in ("read_enable", "write_enable")]
        # a signal belongs to the unit with the longest scope that contains it
        self.owner: dict[int, int] = {}
        scopes = sorted(((u["scope"].strip("."), k) for k, u in enumerate(units)), key=lambda x: -len(x[0]))
        for i in self.tracked:
            names = [n[len(prefix):] for n in signals[i].names if n.startswith(prefix)]
            for sc, k in scopes:
                if any(n.startswith(sc + ".") for n in names):
                    self.owner[i] = k
                    break
        self.prev: dict[int, np.ndarray] = {}
        self.prev_t: dict[int, int] = {}
        self.tog2 = {i: np.zeros(w, np.int64) for i, w in self.widths.items()}
        self.t1 = {i: np.zeros(w, np.int64) for i, w in self.widths.items()}
        self.tx = {i: np.zeros(w, np.int64) for i, w in self.widths.items()}
        self.sampled = [self.clock, *([self.during] if self.during is not None else []), *self.enables,
                        *self.mem_ports]
        self.level = {i: 2 for i in self.sampled}   # value before the next edge (2 = X until first value)
        self.edges = 0            # rising clock edges so far
        self.cycles = 0           # counted edges (during-signal high, or all)
        self.first_edge = self.last_edge = None
        self.active = np.zeros(len(units), np.int64)
        self.mem = np.zeros(len(self.mem_ports), np.int64)
        self.unit_tog2 = np.zeros(len(units), np.int64)
        self.win = _Windows(2 * len(units) + len(self.mem_ports) + 1)
        self.n_units = len(units)

    def _single(self, name: str, what: str) -> int:
        i = self.index.get(name)
        if i is None:
            raise ManifestError(f"{what} {name!r} is not in the waveform")
        if i not in self.tracked or self.widths.get(i) != 1:
            raise ManifestError(f"{what} {name!r} must be a 1-bit signal inside the hpu scope")
        return i

    def _before(self, sig: int, batch, edge_t: np.ndarray) -> np.ndarray:
        """Value of a 1-bit signal just before each edge time (changes at the edge time not yet seen)."""
        if batch is None:
            return np.full(len(edge_t), self.level[sig], np.uint8)
        times, codes = batch[1], batch[2][:, 0]
        k = np.searchsorted(times, edge_t, side="left") - 1
        return np.where(k >= 0, codes[np.maximum(k, 0)], self.level[sig]).astype(np.uint8)

    def __call__(self, batches, last_time: int) -> None:
        by_sig = {}
        for b in batches:
            if b[0] in self.level:
                by_sig[b[0]] = b   # 1-bit signals come in one batch per chunk
        clk = by_sig.get(self.clock)
        if clk is not None:
            c = clk[2][:, 0]
            before = np.concatenate(([self.level[self.clock]], c[:-1]))
            edge_t = clk[1][(before == CODE_0) & (c == CODE_1)]
        else:
            edge_t = np.zeros(0, np.int64)
        edge_idx = self.edges + np.arange(len(edge_t))
        if len(edge_t):
            counted = (self._before(self.during, by_sig.get(self.during), edge_t) == CODE_1
                       if self.during is not None else np.ones(len(edge_t), bool))
            self.cycles += int(counted.sum())
            self.first_edge = self.first_edge if self.first_edge is not None else int(edge_t[0])
            self.last_edge = int(edge_t[-1])
            self.win.add(2 * self.n_units + len(self.mem_ports), edge_idx, counted)
            for k, sig in enumerate(self.enables):
                on = (self._before(sig, by_sig.get(sig), edge_t) == CODE_1) & counted
                self.active[k] += int(on.sum())
                self.win.add(k, edge_idx, on)
            for k, sig in enumerate(self.mem_ports):
                on = (self._before(sig, by_sig.get(sig), edge_t) == CODE_1) & counted
                self.mem[k] += int(on.sum())
                self.win.add(2 * self.n_units + k, edge_idx, on)
        for sig, b in by_sig.items():
            self.level[sig] = int(b[2][-1, 0])
        for sig, times, codes in batches:
            if sig in self.tracked:
                self._update(sig, times, codes, edge_t)
        self.edges += len(edge_t)

    def _update(self, sig, times, codes, edge_t) -> None:
        prev = self.prev.get(sig)
        if prev is None:  # first value: no toggle, X (unknown) since time 0
            self.tx[sig] += int(times[0])
            prev, prev_t = codes[0], int(times[0])
            times, codes = times[1:], codes[1:]
            if len(times) == 0:
                self.prev[sig], self.prev_t[sig] = prev, prev_t
                return
        else:
            prev_t = self.prev_t[sig]
        held = np.concatenate((prev[None, :], codes[:-1]))        # value held before each change
        spans = np.diff(times, prepend=prev_t)
        changed = held != codes
        unknown = ((held | codes) & 2) != 0                       # codes 2, 3 are X, Z
        self.tog2[sig] += 2 * changed.sum(0) - (changed & unknown).sum(0)
        self.t1[sig] += spans @ (held == CODE_1)
        self.tx[sig] += spans @ ((held & 2) != 0)
        self.prev[sig], self.prev_t[sig] = codes[-1], int(times[-1])
        unit = self.owner.get(sig)
        if unit is not None:
            per_change = 2 * changed.sum(1) - (changed & unknown).sum(1)
            self.unit_tog2[unit] += int(per_change.sum())
            cyc = self.edges + np.searchsorted(edge_t, times, side="right") - 1
            self.win.add(self.n_units + unit, np.maximum(cyc, 0), per_change)

    def finish(self, end_time: int) -> None:
        for sig, prev in self.prev.items():
            span = end_time - self.prev_t[sig]
            self.t1[sig] += span * (prev == CODE_1)
            self.tx[sig] += span * ((prev & 2) != 0)
        for sig in self.tracked:
            if sig not in self.prev:      # never given a value: X all along
                self.tx[sig] += end_time


def analyze(waveform, manifest, *, scope: str | None = None, reader: str = "auto",
            during: str | None = None) -> Activity:
    """Stream a waveform once and measure the activity of every manifest unit.

    Parameters
    ----------
    waveform : path
        VCD (or FST with the pywellen reader) of a run of the ``hpu`` design.
    manifest : path or dict
        The power manifest written with the design (``hpu.manifest.json``).
    scope : str, optional
        Hierarchical path of the ``hpu`` instance (e.g. ``tb.dut``); found automatically
        when omitted.
    reader : {"auto", "numpy", "vcdvcd", "pywellen"}
        Waveform reader (``power._vcd``); all give identical results.
    during : str, optional
        A 1-bit signal (relative to the scope, e.g. ``busy``): count only cycles where it
        is 1 just before the edge.  Default: every rising clock edge in the file.
    """
    manifest = load_manifest(manifest)
    rd = open_reader(waveform, reader)
    names = [n for s in rd.signals for n in s.names]
    scope = find_scope(names, manifest, scope, during)
    sink = _Analyzer(rd.signals, scope, manifest, during)
    end_time = rd.run(sink)
    sink.finish(end_time)
    units = manifest["units"]
    n_u, n_m = len(units), len(sink.mem_ports)
    nwin = -(-max(sink.edges, 1) // sink.win.width)
    data = sink.win.data[:, :nwin]
    windows = {"cycles": data[2 * n_u + n_m], "unit_active": data[:n_u], "unit_toggles2": data[n_u:2 * n_u],
               "memory_reads": data[2 * n_u:2 * n_u + n_m:2], "memory_writes": data[2 * n_u + 1:2 * n_u + n_m:2]}
    period = None
    if sink.edges > 1:
        period = (sink.last_edge - sink.first_edge) // (sink.edges - 1)
    order = sorted(sink.tracked, key=lambda i: sink.tracked[i])
    mems = manifest["memories"]
    return Activity(
        path=str(waveform), reader=rd.name, scope=scope, manifest=manifest, seconds_per_unit=rd.seconds_per_unit,
        end_time=end_time, cycles=sink.cycles, clock_period=period,
        signal_names=[sink.tracked[i] for i in order], signal_widths=[sink.widths[i] for i in order],
        bit_toggles2=[sink.tog2[i] for i in order], bit_time1=[sink.t1[i] for i in order],
        bit_timex=[sink.tx[i] for i in order],
        unit_active={u["name"]: int(a) for u, a in zip(units, sink.active)},
        unit_toggles2={u["name"]: int(t) for u, t in zip(units, sink.unit_tog2)},
        memory_reads={m["name"]: int(sink.mem[2 * k]) for k, m in enumerate(mems)},
        memory_writes={m["name"]: int(sink.mem[2 * k + 1]) for k, m in enumerate(mems)},
        window_cycles=sink.win.width, windows=windows,
    )
