"""Render an HTML report in headless Chromium and measure what a reader would see.

No browser driver is needed: a copy of the page gets a small script that, once
the page has loaded, writes its measurements into ``<body data-check=...>``;
Chromium's ``--dump-dom`` prints the DOM after the scripts ran, and
``--screenshot`` renders the page at the reader's width.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["chromium", "Rendered", "render"]

#: Flags for a closed network and no profile: without the background-networking ones Chromium keeps
#: trying to reach Google's hosts.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--virtual-time-budget=10000")

_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images).map(i => ({src: i.src.slice(0, 60), w: i.naturalWidth,
                                                      h: i.naturalHeight, shown: i.getBoundingClientRect().width}));
  const wide = Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > WIDTH + 1)
                    .map(e => e.tagName + (e.id ? "#" + e.id : "")).slice(0, 10);
  document.body.setAttribute("data-check", JSON.stringify({
    images: imgs, scrollWidth: document.documentElement.scrollWidth, overflowing: wide,
    text: document.body.innerText.length, title: document.title}));
});
</script>"""


def chromium() -> str | None:
    """The Chromium executable, or None."""
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@dataclass(frozen=True)
class Rendered:
    images: list[dict]
    scroll_width: int
    overflowing: list[str]
    text_chars: int
    title: str
    screenshot: Path
    distinct_colours: int


def render(page: Path, workdir: Path, width: int = 1280) -> Rendered:
    """Load ``page`` (its folder's files beside it) at ``width`` px; return what the reader would see."""
    exe = chromium()
    probe_page = page.with_name(f".probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    probe = _PROBE.replace("WIDTH", str(width))
    probe_page.write_text(text.replace("</body>", probe + "</body>") if "</body>" in text else text + probe,
                          encoding="utf-8")
    try:
        profile = workdir / "profile"
        base = [exe, *_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},1600"]
        dom = subprocess.run([*base, "--dump-dom", probe_page.as_uri()], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        shot = workdir / f"{page.parent.name}.png"
        subprocess.run([*base, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    finally:
        probe_page.unlink(missing_ok=True)
    found = re.search(r'data-check="([^"]*)"', dom)
    assert found, f"the page's load handler never ran: {page}"
    data = json.loads(html.unescape(found.group(1)))
    from PIL import Image

    with Image.open(shot) as im:
        colours = len(im.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    return Rendered(data["images"], data["scrollWidth"], data["overflowing"], data["text"], data["title"], shot,
                    colours)
