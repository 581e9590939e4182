"""Stage-by-stage comparison of the RTL's debug taps with the golden model's stages.

The taps (docs/interfaces.md section 1) give, per finished query row, the row
max m, the kept count k, Z and r, and for kept keys (all, or a sample: at
most once per row) their index j and e; with the tile gate, per ranked tile
(block, tile, TS, kept) when the RTL taps them.  They are checked in dataflow
order: tile scores and kept tiles (tile gate; a tapped kept key in a tile that
the golden model cuts is a kept-tile mismatch too), scores (through m), kept
count, kept set, e, Z, r and finally O; the first stage that differs is where
the RTL diverged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._tbgen import TAP_RECORDS

__all__ = ["STAGE_ORDER", "diverge", "debug_record", "read_taps"]

#: The row tap's fields (row, m, k, z, r), as the top logs them and ``debug_record`` stores them.
ROW_FIELDS = tuple(name for name, _, _ in TAP_RECORDS["R"][1])

#: (key, what it checks), in dataflow order.
STAGE_ORDER = (
    ("rows", "every query row reported once on dbg_row_*"),
    ("ts", "tile scores TS (tile and block summaries; tile gate)"),
    ("tiles", "kept tiles per query block (tile gate)"),
    ("m", "scores (row max m)"),
    ("k", "kept count k"),
    ("keep", "kept set"),
    ("e", "e (exp2 unit)"),
    ("z", "Z (sum of e)"),
    ("r", "r (reciprocal)"),
    ("o", "O (PV sum and normalizer)"),
)


def debug_record(rows, kept, tiles=()) -> dict:
    """One head's taps in the one format every comparison reads.

    ``rows``: (row, m, k, z, r) per finished query row, in the hardware's order; ``kept``: (row, key
    index, e) per tapped kept key; ``tiles``: (block, tile, TS, kept) per ranked tile (tile gate).
    Returns ``{"rows": structured int64 array, "kept": int64 [n, 3], "tiles": int64 [n, 4]}``.
    """
    return {"rows": np.array([tuple(int(x) for x in rec) for rec in rows], dtype=[(n, np.int64) for n in ROW_FIELDS]),
            "kept": np.array([[int(x) for x in rec] for rec in kept], dtype=np.int64).reshape(-1, 3),
            "tiles": np.array([[int(x) for x in rec] for rec in tiles], dtype=np.int64).reshape(-1, 4)}


def read_taps(path: Path, heads: int) -> tuple[list[int], list[int], list[dict]]:
    """Cycles, start cycles and taps per head from the top's tap log (cosim/_tbgen.py)."""
    starts, dones = [None] * heads, [None] * heads
    rows, kept, tiles = ([[] for _ in range(heads)] for _ in range(3))
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        kind, *vals = line.split()
        vals = [int(x) for x in vals]
        h = vals[0]
        if not 0 <= h < heads:
            continue
        if kind == "S":
            starts[h] = vals[1]
        elif kind == "D" and dones[h] is None:
            dones[h] = vals[1]
        elif kind == "R":
            rows[h].append(vals[1:])
        elif kind == "K":
            kept[h].append(vals[1:])
        elif kind == "T":
            tiles[h].append(vals[1:])
    # The top logs done on the edge that samples it, one edge after the edge that raised it; a run's cycles are
    # counted from the edge that samples start to the edge that raises done (as hpu_model.perf counts them).
    cycles = [d - s - 1 for s, d in zip(starts, dones)]
    return cycles, starts, [debug_record(rows[h], kept[h], tiles[h]) for h in range(heads)]


def _head(st, h: int, dbg: dict, o_rtl: np.ndarray, all_kept: bool, tile_geometry=None) -> dict[str, list]:
    """Per stage: list of (count, first) for head ``h``."""
    m, k, z, r = (np.asarray(getattr(st, a))[h] for a in ("m", "k", "z", "r"))
    n_q = m.shape[0]
    keep, e, o = np.asarray(st.keep)[h], np.asarray(st.e)[h], np.asarray(st.o)[h]
    rows, kept = dbg["rows"], dbg["kept"]
    found: dict[str, list] = {name: [0, None] for name, _ in STAGE_ORDER}

    def note(stage, row, got, want, **where):
        found[stage][0] += 1
        if found[stage][1] is None:
            where = {key: int(val) for key, val in where.items()}
            found[stage][1] = {"stage": stage, "head": h, "row": int(row), **where, "value": got, "expected": want}

    seen = np.zeros(n_q, int)
    for rec in rows:
        i = int(rec["row"])
        if not 0 <= i < n_q:
            note("rows", i, "reported", f"row index in 0..{n_q - 1}")
            continue
        seen[i] += 1
        for name, ref in (("m", m), ("k", k), ("z", z), ("r", r)):
            if int(rec[name]) != int(ref[i]):
                note(name, i, int(rec[name]), int(ref[i]))
    for i in np.flatnonzero(seen != 1):
        note("rows", i, f"reported {seen[i]} times", "once")
    if tile_geometry is not None:
        _tile_stages(st, h, dbg, kept, note, *tile_geometry)
    got_keep = np.zeros_like(keep)
    for row, idx, ev in kept.tolist():
        if not (0 <= row < n_q and 0 <= idx < keep.shape[1]):
            note("keep", row, f"key {idx}", "a key index within n_k")
            continue
        if got_keep[row, idx]:
            note("keep", row, f"key {idx} twice", "each kept key once", key=idx)
        got_keep[row, idx] = True
        if keep[row, idx] and ev != int(e[row, idx]):
            note("e", row, int(ev), int(e[row, idx]), key=idx)
    # The taps may show only some kept keys (the RTL taps lane 0 of each group: "at most once per row"), so a
    # reported key must be kept but a kept key need not be reported; a key the RTL drops shows up in Z instead.
    for row, idx in np.argwhere(got_keep & ~keep):
        note("keep", row, True, False, key=idx)
    if all_kept:  # with one lane every kept key is tapped
        for row, idx in np.argwhere(keep & ~got_keep):
            note("keep", row, False, True, key=idx)
    for row, col in np.argwhere(o_rtl != o):
        note("o", row, int(o_rtl[row, col]), int(o[row, col]), col=col)
    return found


def _tile_stages(st, h: int, dbg: dict, kept_taps: np.ndarray, note, tile: int, block: int) -> None:
    """Tile-gate stages of head ``h``: the tile taps (block, tile, TS, kept), when the RTL has them, and the
    tiles that the tapped kept keys lie in (each must be a tile that the golden model keeps for the row's block).
    """
    ts, tiles = np.asarray(st.ts)[h], np.asarray(st.kept)[h]
    n_blocks, n_tiles = tiles.shape
    rows_per_block, keys_per_tile = block, tile
    for b, t, score, on in np.asarray(dbg.get("tiles", np.zeros((0, 4), np.int64))).reshape(-1, 4).tolist():
        if not (0 <= b < n_blocks and 0 <= t < n_tiles):
            note("tiles", b * rows_per_block, f"block {b} tile {t}", f"block < {n_blocks}, tile < {n_tiles}")
            continue
        if score != int(ts[b, t]):
            note("ts", b * rows_per_block, int(score), int(ts[b, t]), block=b, tile=t)
        if bool(on) != bool(tiles[b, t]):
            note("tiles", b * rows_per_block, bool(on), bool(tiles[b, t]), block=b, tile=t)
    for row, idx, _ in kept_taps.tolist():
        b, t = row // rows_per_block, idx // keys_per_tile
        if 0 <= b < n_blocks and 0 <= t < n_tiles and not tiles[b, t]:
            note("tiles", row, f"a key of tile {t} kept", f"tile {t} cut for block {b}", key=idx, block=b, tile=t)


def diverge(st, debug: list[dict], o_rtl: np.ndarray, *, all_kept: bool = False, tile: int | None = None,
            block: int | None = None) -> dict:
    """Compare golden ``Stages`` (3-D, one head per leading index) with the RTL's taps and output.

    ``debug`` holds one :func:`debug_record` per head.  ``all_kept``: the taps show every kept key (an RTL
    with one lane), so a kept key missing from them is a kept-set mismatch too.  ``tile``, ``block``: a
    tile-gate run (``st`` is ``golden.TileStages``); its tile stages are checked first.

    Returns
    -------
    dict
        ``first_divergence`` (stage key or None), ``description``, ``first`` (where and what: head, row,
        key or column, value vs expected) and ``stages``: per stage key ``{"mismatches", "first"}``.
    """
    total = {name: {"mismatches": 0, "first": None} for name, _ in STAGE_ORDER}
    for h, dbg in enumerate(debug):
        geometry = None if tile is None else (tile, block)
        for name, (count, first) in _head(st, h, dbg, np.asarray(o_rtl)[h], all_kept, geometry).items():
            total[name]["mismatches"] += count
            if total[name]["first"] is None:
                total[name]["first"] = first
    for name, what in STAGE_ORDER:
        if total[name]["mismatches"]:
            return {"first_divergence": name, "description": what, "first": total[name]["first"], "stages": total}
    return {"first_divergence": None, "description": "no stage differs", "first": None, "stages": total}
