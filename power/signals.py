"""Toggles and duty of every signal of any waveform: no manifest, no clock, any design or simulator.

``survey(vcd)`` streams a waveform once and counts, per signal, its toggles
(OpenSTA weighting, see :mod:`._counters`), its bit-time at 1 and at X/Z,
and from those its *duty* (fraction of bit-time at 1) and toggle rate; per
scope, the same summed over the signals named directly in it (a net aliased
in several scopes, e.g. a port, counts in each).  The HPU's per-unit view
(:func:`power.analyze`) needs the manifest; this one does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._counters import ToggleCounter
from ._vcd import open_reader

__all__ = ["SignalActivity", "survey"]


@dataclass
class SignalActivity:
    """Per-signal counts of one waveform.  ``to_dict()`` gives the JSON form."""

    path: str
    reader: str
    seconds_per_unit: float | None
    end_time: int
    names: list[str]                   # first full name of each counted signal
    aliases: list[tuple[str, ...]]     # every name of it
    scopes: list[tuple[str, ...]]      # scope of each alias
    widths: list[int]
    toggles2: list[int]                # half toggles, summed over bits
    time1: list[int]                   # bit-time at 1
    timex: list[int]                   # bit-time at X or Z
    skipped: list[str]                 # real, string and event variables (no bit levels)

    def toggles(self) -> dict[str, float]:
        return {n: t / 2 for n, t in zip(self.names, self.toggles2)}

    def per_scope(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for k, scopes in enumerate(self.scopes):
            for scope in dict.fromkeys(scopes):
                row = out.setdefault(scope, {"signals": 0, "bits": 0, "toggles": 0.0, "time_high": 0, "time_x": 0})
                row["signals"] += 1
                row["bits"] += self.widths[k]
                row["toggles"] += self.toggles2[k] / 2
                row["time_high"] += self.time1[k]
                row["time_x"] += self.timex[k]
        for row in out.values():
            row["duty"] = row["time_high"] / (row["bits"] * self.end_time) if self.end_time else 0.0
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        span = self.end_time
        signals = {}
        for k, name in enumerate(self.names):
            bit_time = self.widths[k] * span
            signals[name] = {"width": self.widths[k], "toggles": self.toggles2[k] / 2, "time_high": self.time1[k],
                             "time_x": self.timex[k], "duty": self.time1[k] / bit_time if bit_time else 0.0,
                             "aliases": list(self.aliases[k][1:])}
        return {"format": "hpu-signals/1", "waveform": self.path, "reader": self.reader,
                "seconds_per_time_unit": self.seconds_per_unit, "end_time": span,
                "signals": signals, "scopes": self.per_scope(), "skipped": self.skipped}


def survey(waveform, *, reader: str = "auto") -> SignalActivity:
    """Count every signal of ``waveform`` (VCD, or FST with pywellen); see the module docstring."""
    rd = open_reader(waveform, reader)
    signals = rd.signals
    counted = {i: s.width for i, s in enumerate(signals) if s.counted}
    wanted = [s.counted for s in signals]
    counter = ToggleCounter(counted, len(signals), detail=False)

    def sink(groups, last_time):
        for width, sigs, times, codes in groups:
            counter.update(width, sigs, times, codes)

    end = rd.run(sink, np.array(wanted, bool))
    counter.finish(end)
    order = sorted(counted, key=lambda i: signals[i].names[0])
    tog2, t1, tx = counter.totals(order)
    return SignalActivity(
        path=str(waveform), reader=rd.name, seconds_per_unit=rd.seconds_per_unit, end_time=end,
        names=[signals[i].names[0] for i in order], aliases=[signals[i].names for i in order],
        scopes=[tuple(".".join(p[:-1]) for p in (signals[i].paths or [n.split(".") for n in signals[i].names]))
                for i in order],
        widths=[signals[i].width for i in order], toggles2=tog2, time1=t1, timex=tx,
        skipped=sorted(n for s in signals if not s.counted for n in s.names))
