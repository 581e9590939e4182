"""The report: fronts marked in the JSON, pick for the budget, figures and tables written."""

import json

import pytest

from explore.errors import ExploreError
from explore.evaluate import Context
from explore.report import write
from explore.space import Space, grid
from explore.sweep import sweep


@pytest.fixture(scope="module")
def rows(tmp_path_factory, area_cache):
    pts = grid(Space.from_assignments(["D=8", "L=2,8", "p=1,0.5,0.25", "n=16"])).points
    r = sweep(pts, Context(fidelity=True, area_cache=area_cache), tmp_path_factory.mktemp("s") / "s.sqlite",
              scheduler="inline")
    return r.rows


def test_report_files_and_fronts(tmp_path, rows):
    folder, summary = write(rows, out=tmp_path, meta={"command": "test"}, budget={"max_area": None,
                                                                                  "min_cosine": 0.9})
    for name in ("index.html", "report.md", "explore.json", "energy_vs_fidelity.png", "cycles_vs_area.png",
                 "edp_vs_p.png"):
        assert (folder / name).stat().st_size > 0, name
    data = json.loads((folder / "explore.json").read_text())
    by_key = {r["key"]: r["result"] for r in rows}
    # the pick is the lowest EDP among the points with cosine >= 0.9, computed here independently
    ok = [k for k, r in by_key.items() if r["cosine"] >= 0.9]
    assert data["pick"]["key"] == min(ok, key=lambda k: by_key[k]["edp"])
    # no area synthesized: the cycles/area front ranks nothing and says how many points lack it
    assert data["fronts"]["cycles_vs_area"] == {"missing": 6, "keys": []}
    # energy/fidelity front: no front point is dominated by any point
    front = data["fronts"]["energy_vs_fidelity"]["keys"]
    assert front
    for k in front:
        e, c = by_key[k]["energy_per_row_pj"], by_key[k]["cosine"]
        assert not any(o["energy_per_row_pj"] <= e and o["cosine"] >= c and (o["energy_per_row_pj"] < e or
                                                                              o["cosine"] > c)
                       for o in by_key.values())
    md = (folder / "report.md").read_text()
    assert "## Pick for the budget (--min-cosine 0.9)" in md and "pending" in md


def test_infeasible_budget_writes_nothing(tmp_path, rows):
    with pytest.raises(ExploreError, match="infeasible budget"):
        write(rows, out=tmp_path, meta={}, budget={"max_area": None, "min_cosine": 1.5})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # Yosys on the smallest HPU: ~100 s on 2 loaded cores
def test_synthesized_area_reaches_the_cycles_area_front(tmp_path):
    from explore import area

    cache = str(tmp_path / "area")
    pts = grid(Space.from_assignments(["D=2", "L=1", "N_MAX=2", "n=2", "p=1,0.5"])).points
    assert area.pending([p.geometry for p in pts], cache) == [pts[0].geometry]
    rec = area.synthesize(pts[0].geometry, cache)
    assert rec["cells"] > 0 and rec["flip_flops"] > 0
    assert area.pending([p.geometry for p in pts], cache) == []
    r = sweep(pts, Context(fidelity=True, area_cache=cache), tmp_path / "s.sqlite", scheduler="inline")
    assert {row["result"]["area_source"] for row in r.rows} == {"yosys"}
    _, summary = write(r.rows, out=tmp_path, meta={}, budget={"max_area": rec["cells"] + 1, "min_cosine": None})
    assert summary["fronts"]["cycles_vs_area"]["missing"] == 0 and summary["fronts"]["cycles_vs_area"]["keys"]
