"""The privacy report as one self-contained HTML file (``scrub --report report.html``).

The same drawing as the web page (``assets/report/report.js`` and ``report.css``: the photo
with numbered faces and a before/after slider, the attacker's beliefs per face in plain
language), with everything inlined: the script, the style, the reports as JSON and the
photos as data URLs (downscaled to ``PREVIEW_SIDE`` on the long side). A Content-Security-
Policy in the file forbids loading anything else, so it opens offline and phones home to
no one.
"""

from __future__ import annotations

import base64
import html
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PREVIEW_SIDE = 1600
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def report_assets_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "assets" / "report"))


def preview_data_url(rgb: np.ndarray) -> str:
    """A JPEG data URL of an RGB (uint8 or uint16) image, at most PREVIEW_SIDE on its long side."""
    if rgb.dtype != np.uint8:
        rgb = (rgb >> 8).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(items: list[dict[str, Any]], album: dict[str, Any] | None = None) -> str:
    """``items``: {"title", "report" (Scrubber's), "before", "after" (data URLs or None),
    "status"} per photo; ``album``: an album's report (its people come first)."""
    assets = report_assets_dir()
    data = json.dumps({"items": items, "album": album}).replace("</", "<\\/")  # no "</script>" can end the data early
    sections = "\n".join(
        f'<section class="item"><h2>{html.escape(item["title"])}</h2>'
        f'<p class="muted">{html.escape(item.get("status") or "")}</p><div class="report" data-index="{i}"></div></section>'
        for i, item in enumerate(items))
    if album is not None:  # the people first; report.js draws them from the data
        sections = '<section class="item album"></section>\n' + sections
    boot = ('const {items, album} = JSON.parse(document.getElementById("data").textContent);\n'
            'document.querySelectorAll(".report").forEach((node) => {\n'
            '  const item = items[Number(node.dataset.index)];\n'
            '  if (item.report && item.report.faces) renderScrubReport(node, item.report, item.before, item.after);\n'
            '});\n'
            'if (album) renderAlbumPeople(document.querySelector(".album"), album);')
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>infoscrub privacy report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 1.5rem; }}
{(assets / "report.css").read_text()}
</style>
</head>
<body>
<main>
<h1>infoscrub privacy report</h1>
<p class="muted">What an attacker's model infers about each face before and after scrubbing.
This file loads nothing from anywhere: the photos are previews inlined in it.</p>
{sections}
</main>
<script type="application/json" id="data">{data}</script>
<script>
{(assets / "report.js").read_text()}
{boot}
</script>
</body>
</html>
"""
