"""The HTML reports in a real browser: every figure loads, nothing overflows at 1280 px, the page is not blank.

Slow (a demo run and Chromium starts); needs Debian's chromium package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hpu.cli import main
from tests.browser import chromium, render

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (apt-get install chromium)")]


def _check(index: Path, workdir: Path, min_images: int) -> None:
    seen = render(index, workdir)
    assert len(seen.images) >= min_images, seen.images
    broken = [i["src"] for i in seen.images if not (i["w"] > 0 and i["h"] > 0)]
    assert broken == [], f"figures that did not load: {broken}"
    assert seen.scroll_width <= 1280, f"page is {seen.scroll_width} px wide at 1280: {seen.overflowing}"
    assert seen.text_chars > 200 and seen.title
    assert seen.distinct_colours > 50, f"screenshot {seen.screenshot} looks blank ({seen.distinct_colours} colours)"


def test_demo_report_renders(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "runs"), "--head-dim", "8", "--lanes", "2", "--seq", "8",
                 "--heads", "1", "--permeability", "1", "0.25"]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    _check(folder / "index.html", tmp_path, min_images=3)


def test_report_of_two_runs_renders(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--head-dim", "8", "--lanes", "2", "--seq", "8",
                 "--heads", "1", "--permeability", "1"]) == 0
    (folder,) = (tmp_path / "demo").iterdir()
    vcd, manifest = folder / "waves-p1.vcd", folder / "rtl" / "hpu.manifest.json"
    assert main(["report", f"dense={vcd}", f"again={vcd}", "--manifest", str(manifest),
                 "--out", str(tmp_path / "report")]) == 0
    (report,) = (tmp_path / "report").iterdir()
    _check(report / "index.html", tmp_path, min_images=2)


def test_the_check_fails_on_a_broken_figure(tmp_path):
    """The browser check itself can fail: a missing image and a 2000 px table are caught."""
    page = tmp_path / "bad" / "index.html"
    page.parent.mkdir()
    page.write_text("<html><head><title>t</title></head><body><p>" + "text " * 100 + "</p>"
                    "<img src='missing.png'><table style='width:2000px'><tr><td>x</td></tr></table></body></html>")
    seen = render(page, tmp_path)
    assert seen.images and seen.images[0]["w"] == 0
    assert seen.scroll_width > 1280 and "TABLE" in seen.overflowing
