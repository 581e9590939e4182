"""The design space: parameters, their ranges (from the one limits table), grids and samples.

A *space* maps each swept parameter to its values; parameters not named keep
their defaults.  Values are written the same way on the command line
(``--grid lanes=4,8,16``) and in ``hpu.toml`` (``[explore.grid]``)::

    4,8,16          a list
    4:16:4          start:stop:step, stop included (floats too: 1:0.25:-0.25)
    4:16:*2         start:stop:*factor, geometric (4, 8, 16)
    0.25:1          (samples only) a range to draw from: integers or floats

:func:`grid` expands the Cartesian product; :func:`sample` draws ``N`` points
uniformly at random or as a Latin hypercube.  Combinations that no HPU can run
(``n > N_MAX``, ``L > D``, ...) are left out and counted, never evaluated;
values outside the limits, unknown names and empty grids raise
:class:`~explore.errors.ExploreError`.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from hpu_model import spec

from .errors import ExploreError
from .params import ALIASES, PARAMS, Param, canonical

__all__ = ["Param", "PARAMS", "Point", "Space", "parse_values", "parse_assignment", "grid", "sample", "ALIASES"]


@dataclass(frozen=True)
class Point:
    """One design point with every parameter resolved (tile and block are None for the token gate)."""

    head_dim: int
    lanes: int
    max_seq: int
    gate: str
    tile: int | None
    block: int | None
    permeability: float
    seq: int
    causal: bool
    workload: str

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def p16(self) -> int:
        return spec.permeability_q16(self.permeability)

    @property
    def geometry(self) -> tuple[int, int, int, int, int]:
        """The design (D, L, N_MAX, T, B) this point runs on; T = B = 0 for a token-gate-only design."""
        return (self.head_dim, self.lanes, self.max_seq, self.tile or 0, self.block or 0)


POINT_FIELDS = tuple(f.name for f in fields(Point))


def _arith(parts: list[str], param: Param) -> list:
    start, stop = (param.check(x) if param.kind == "int" else float(x) for x in parts[:2])
    step_text = parts[2]
    if step_text.startswith("*"):
        factor = float(step_text[1:])
        if factor <= 1 and not (0 < factor < 1):
            raise ExploreError(f"{param.name}: geometric factor must be > 0 and != 1, got {step_text!r}")
        out, x = [], float(start)
        while (x <= stop * (1 + 1e-9)) if factor > 1 else (x >= stop * (1 - 1e-9)):
            out.append(x)
            x *= factor
            if len(out) > 100_000:
                break
    else:
        step = float(step_text)
        if step == 0 or (stop - start) * step < 0:
            raise ExploreError(f"{param.name}: step {step_text} never reaches {stop} from {start}")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        out = [start + i * step for i in range(count)]
    if param.kind == "int":
        out = [int(round(x)) for x in out]
    else:
        out = [round(x, 12) for x in out]
    return out


def parse_values(name: str, text) -> list | tuple:
    """Values of one parameter from a string (see module doc) or a TOML value.

    Returns a list of checked values, or ``("range", lo, hi)`` for a two-part ``lo:hi`` (samples only).
    """
    param = PARAMS[canonical(name)]
    if isinstance(text, list):
        values = [param.check(v) for v in text]
    elif isinstance(text, dict):
        if set(text) - {"lo", "hi"} or not {"lo", "hi"} <= set(text):
            raise ExploreError(f"{param.name}: a range table needs exactly lo and hi, got {sorted(text)}")
        return ("range", param.check(text["lo"]), param.check(text["hi"]))
    elif isinstance(text, (int, float, bool)):
        values = [param.check(text)]
    else:
        text = str(text).strip()
        if ":" in text and param.kind in ("int", "float"):
            parts = [x.strip() for x in text.split(":")]
            if len(parts) == 2:
                lo, hi = param.check(parts[0]), param.check(parts[1])
                if lo > hi:
                    raise ExploreError(f"{param.name}: range {text!r} is empty (lo > hi)")
                return ("range", lo, hi)
            if len(parts) != 3:
                raise ExploreError(f"{param.name}: {text!r} is not start:stop:step or lo:hi")
            try:
                values = [param.check(v) for v in _arith(parts, param)]
            except ValueError:
                raise ExploreError(f"{param.name}: {text!r} is not start:stop:step with numbers") from None
        else:
            values = [param.check(v) for v in text.split(",") if v.strip()]
    if not values:
        raise ExploreError(f"{param.name}: no values given")
    return list(dict.fromkeys(values))


def parse_assignment(text: str) -> tuple[str, list | tuple]:
    """``NAME=VALUES`` (e.g. ``L=4,8,16``) as (canonical name, values)."""
    if "=" not in text:
        raise ExploreError(f"grid entry {text!r} must be NAME=VALUES, e.g. lanes=4,8,16 or p=1:0.25:-0.25")
    name, values = text.split("=", 1)
    return canonical(name), parse_values(name, values)


@dataclass(frozen=True)
class Space:
    """Swept parameters (name -> list of values, or a ("range", lo, hi) for samples) and fixed overrides."""

    axes: dict

    @classmethod
    def from_assignments(cls, entries) -> Space:
        """``NAME=VALUES`` entries; a parameter given again replaces its earlier values (so that command-line
        flags win over the ``[explore.grid]`` table of ``hpu.toml``, which comes first)."""
        axes: dict = {}
        for entry in entries:
            name, values = parse_assignment(entry)
            axes.pop(name, None)
            axes[name] = values
        return cls(axes)

    @classmethod
    def from_mapping(cls, table: dict, where: str = "grid table") -> Space:
        if not isinstance(table, dict):
            raise ExploreError(f"{where} must be a table of NAME = values")
        axes = {}
        for name, values in table.items():
            key = canonical(name)
            if key in axes:
                raise ExploreError(f"{where}: parameter {key} is given twice")
            axes[key] = parse_values(name, values)
        return cls(axes)

    @classmethod
    def from_toml(cls, path, section: str = "explore") -> Space:
        """The ``[<section>.grid]`` table of a TOML file (e.g. ``hpu.toml``)."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ExploreError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ExploreError(f"{path} is not valid TOML: {exc}") from None
        table = data.get(section, {}).get("grid")
        if table is None:
            raise ExploreError(f"{path} has no [{section}.grid] table")
        return cls.from_mapping(table, f"{path} [{section}.grid]")


@functools.lru_cache(maxsize=64)
def workload_shape(path: str) -> tuple[int, int]:
    """(D, longest run) of a workload file (hpu capture's), read once."""
    from hpu_model.workload import load_npz

    w = load_npz(path)
    return int(w.q.shape[-1]), max(max(w.lengths(h)) for h in range(w.heads))


def resolve(values: dict) -> Point | str:
    """A Point from canonical name -> value (defaults filled in), or the reason no HPU can run it.

    A workload file fixes D (unless swept: then other D are left out) and n (its longest run).
    """
    v = {name: p.default for name, p in PARAMS.items()} | values
    if v["workload"] != "random":
        from ._workloads import MODEL_PREFIX, model_shape

        if v["workload"].startswith(MODEL_PREFIX):
            d, n = model_shape(v["workload"])
        else:
            v["workload"] = str(Path(v["workload"]).resolve())
            d, n = workload_shape(v["workload"])
        if "head_dim" in values and values["head_dim"] != d:
            return "D != the workload file's D"
        v["head_dim"], v["seq"] = d, n
    if v["max_seq"] is None:
        v["max_seq"] = max(8, 1 << max(0, int(v["seq"]) - 1).bit_length())
        v["max_seq"] = min(v["max_seq"], int(PARAMS["max_seq"].hi))
    if v["lanes"] > v["head_dim"]:
        return "L > D"
    if v["seq"] > v["max_seq"]:
        return "n > N_MAX"
    if v["gate"] == "token":
        v["tile"] = v["block"] = None
    try:  # the design rules of the architecture (e.g. T >= 2L, N_MAX / T <= 256 tiles)
        from hpu_model.arch import Geometry

        Geometry(v["head_dim"], v["lanes"], v["max_seq"], v["tile"] or 0, v["block"] or 0)
    except ValueError as exc:
        return str(exc).split(", got")[0]
    return Point(**{name: v[name] for name in POINT_FIELDS})


@dataclass
class Expansion:
    """The feasible points of a space and how many combinations were left out, by reason."""

    points: list
    skipped: dict

    def summary(self) -> str:
        left = ", ".join(f"{n} with {why}" for why, n in self.skipped.items())
        return f"{len(self.points)} points" + (f" ({sum(self.skipped.values())} left out: {left})" if left else "")


def _finish(combos, what: str) -> Expansion:
    points, skipped, seen = [], {}, set()
    for combo in combos:
        got = resolve(combo)
        if isinstance(got, str):
            skipped[got] = skipped.get(got, 0) + 1
        elif got not in seen:  # token-gate points ignore T and B: one point, not one per (T, B)
            seen.add(got)
            points.append(got)
    if not points:
        why = f" (all {sum(skipped.values())} combinations infeasible: {', '.join(skipped)})" if skipped else ""
        raise ExploreError(f"the {what} is empty{why}; give at least one value per parameter, "
                           "e.g. --grid lanes=4,8 --grid p=1,0.5")
    return Expansion(points, skipped)


def grid(space: Space) -> Expansion:
    """Every combination of the axes' values (ranges must have been given a step)."""
    for name, values in space.axes.items():
        if isinstance(values, tuple):
            raise ExploreError(f"{name}: a range lo:hi needs a step in a grid (lo:hi:step), or use --sample")
    names = list(space.axes)
    combos = (dict(zip(names, vals)) for vals in itertools.product(*space.axes.values()))
    return _finish(combos, "grid")


def sample(space: Space, count: int, *, method: str = "lhs", seed: int = 0) -> Expansion:
    """``count`` points drawn uniformly ("random") or as a Latin hypercube ("lhs") over the axes.

    A list is sampled as a categorical axis; ``("range", lo, hi)`` uniformly (integers inclusive).
    """
    if method not in ("random", "lhs"):
        raise ExploreError(f"sample method must be random or lhs, got {method!r}")
    if count < 1:
        raise ExploreError(f"sample size must be >= 1, got {count}")
    if not space.axes:
        raise ExploreError("the sample is empty: name at least one parameter to vary")
    rng = np.random.default_rng(seed)
    names = list(space.axes)
    if method == "lhs":  # one draw per stratum per axis, strata shuffled independently
        u = (np.argsort(rng.random((len(names), count)), axis=1) + rng.random((len(names), count))) / count
    else:
        u = rng.random((len(names), count))
    combos = []
    for j in range(count):
        combo = {}
        for i, name in enumerate(names):
            axis, param = space.axes[name], PARAMS[name]
            if isinstance(axis, tuple):
                _, lo, hi = axis
                if param.kind == "int":
                    combo[name] = param.check(min(hi, lo + int(u[i, j] * (hi - lo + 1))))
                else:
                    combo[name] = param.check(lo + u[i, j] * (hi - lo) or hi)
            else:
                combo[name] = axis[min(len(axis) - 1, int(u[i, j] * len(axis)))]
        combos.append(combo)
    return _finish(combos, "sample")
