"""The privacy report as one self-contained HTML file (``scrub --report report.html``).

The same drawing as the web page (``assets/report/report.js`` and ``report.css``: the photo
with numbered faces, the attacker's beliefs per face in plain language), with everything
inlined: the script, the style, the reports as JSON and the photos as data URLs
(downscaled to ``PREVIEW_SIDE`` on the long side). A Content-Security-Policy in the file
forbids loading anything else and runs only the report's own script (by its hash), so it
opens offline and phones home to no one.

What the file holds, by default: the scrubbed photos in which faces were found, the face
boxes, the beliefs and the photos' file names; no original pixels, no folder paths, no
file hashes, so sharing the report shares nothing the scrubbed photos do not. With
``originals=True`` (``scrub --report-originals``) the original previews and a before/after
slider are added, under a warning at the top of the page.

Every piece of text a file name or a report can bring is escaped for where it goes:
``html.escape`` in the markup, JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 as \\uXXXX
inside the data script (so no name can end or re-enter the script element), and report.js
puts names into text nodes only. Names that are not UTF-8 (bytes Python keeps as surrogate
escapes) are shown with \\xNN escapes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PREVIEW_SIDE = 1600
# The parts of a photo's report that the page draws; nothing else is embedded (no input
# path, no output path, no SHA-256 of the original).
SHOWN_KEYS = ("mode", "strength", "attributes", "width", "height", "faces_found", "faces", "phrases")
# In the data script, where the HTML parser looks for "</script" and "<!--": escape what
# could start either, and the line separators older JavaScript parsers choke on.
SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
CONTAINS = ("This file contains the scrubbed photos in which faces were found (previews up to "
            f"{PREVIEW_SIDE} px), where each face is, what an attacker's model infers about it before and "
            "after scrubbing, and the photos' file names. It contains no original photo, no folder path and no "
            "file hash: sharing it shows no more than the scrubbed photos do.")
ORIGINALS_WARNING = ("Warning: this file contains the ORIGINAL, unscrubbed photos (previews up to "
                     f"{PREVIEW_SIDE} px) beside the scrubbed ones. Anyone who sees it sees every face as it "
                     "was: keep it to yourself, and share the scrubbed photos instead.")


# Which attacker the beliefs come from, in one sentence (the web page says the same).
WHOSE_BELIEFS = ("The beliefs come from infoscrub's report attacker, a classifier trained on unedited faces; an "
                 "attacker who knows infoscrub and trains on scrubbed faces can read more.")


def report_assets_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "assets" / "report"))


def audit_text() -> str:
    """docs/privacy.md as shipped in the package: the threat models and the measured numbers
    of the bundled weights under each."""
    return (resources.files("infoscrub") / "assets" / "privacy.md").read_text(encoding="utf-8")


def readable(text: str) -> str:
    """``text`` as people can read it and UTF-8 can encode it: the bytes of a non-UTF-8 file
    name (surrogate escapes, on Linux) as \\xNN, any other lone surrogate as \\udNNN."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def readable_data(value: Any) -> Any:
    """Every string in a JSON-like structure (keys too) made ``readable``."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, dict):
        return {readable_data(k): readable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable_data(v) for v in value]
    return value


def script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element whatever its strings hold."""
    text = json.dumps(data)  # ASCII only: every non-ASCII character is already \\uXXXX
    for char, escape in SCRIPT_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def preview_data_url(rgb: np.ndarray) -> str:
    """A JPEG data URL of an RGB (uint8 or uint16) image, at most PREVIEW_SIDE on its long side."""
    if rgb.dtype != np.uint8:
        rgb = (rgb >> 8).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def report_item(source: Path, destination: Path, entry: dict[str, Any], original: np.ndarray | None,
                scrubbed: np.ndarray | None, originals: bool = False) -> dict[str, Any]:
    """One photo of the page from its report entry (photo_job's): the drawn parts of its
    report and the scrubbed preview when faces were found in it; the original's preview
    only with ``originals`` and only beside a scrubbed one (never hidden in the data). The
    photo is named by its file name, in its title and in its message (an error names paths)."""
    has_faces = bool(entry.get("faces"))
    after = preview_data_url(scrubbed) if has_faces and scrubbed is not None else None
    before = preview_data_url(original) if originals and after and original is not None else None
    report = {k: entry[k] for k in SHOWN_KEYS if k in entry} if has_faces else None
    status = entry.get("message") or ""
    for path in (source, destination):
        status = status.replace(str(path), path.name)
    return {"title": source.name, "status": status, "report": report, "before": before, "after": after}


def page_album(album: dict[str, Any]) -> dict[str, Any]:
    """An album's report for the page: its photos by file name, not by path."""
    def name(path: str) -> str:
        return Path(path).name

    people = [{**person, "photos": [name(p) for p in person.get("photos", [])],
               "in_photos": [{**seen, "photo": name(seen["photo"])} for seen in person.get("in_photos", [])]}
              for person in album.get("people", [])]
    return {**album, "people": people}


def render_html(items: list[dict[str, Any]], album: dict[str, Any] | None = None, originals: bool = False) -> str:
    """``items``: {"title", "report" (the drawn part of Scrubber's), "after", "before" (data
    URLs or None), "status"} per photo (``report_item``); ``album``: an album's report (its
    people come first); ``originals``: the items carry original previews (adds the warning)."""
    assets = report_assets_dir()
    items = readable_data(items)
    album = None if album is None else readable_data(page_album(album))
    sections = "\n".join(
        f'<section class="item"><h2>{html.escape(item["title"])}</h2>'
        f'<p class="muted">{html.escape(item.get("status") or "")}</p>'
        f'<div class="report" data-index="{i}"></div></section>'
        for i, item in enumerate(items))
    if album is not None:  # the people first; report.js draws them from the data
        sections = '<section class="item album"></section>\n' + sections
    script = report_script(assets)
    notice = (f'<p class="warning" role="alert">{html.escape(ORIGINALS_WARNING)}</p>' if originals
              else f'<p class="contains">{html.escape(CONTAINS)}</p>')
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{content_security_policy(script)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>infoscrub privacy report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 1.5rem; }}
pre.audit {{ white-space: pre-wrap; font-size: 0.85rem; }}
{(assets / "report.css").read_text()}
</style>
</head>
<body>
<main>
<h1>infoscrub privacy report</h1>
{notice}
<p class="muted">What an attacker's model infers about each face before and after scrubbing.
{html.escape(WHOSE_BELIEFS)} See <a href="#audit">the privacy audit</a>.
This file loads nothing from anywhere: the photos are previews inlined in it.</p>
{sections}
<details id="audit"><summary>The privacy audit: which attackers, and what each reads of the bundled model's
edits</summary><pre class="audit">{html.escape(audit_text())}</pre></details>
</main>
<script type="application/json" id="data">{script_json({"items": items, "album": album})}</script>
<script>{script}</script>
</body>
</html>
"""


def report_script(assets: Path) -> str:
    """report.js and the lines that draw every photo from the data script."""
    boot = ('const {items, album} = JSON.parse(document.getElementById("data").textContent);\n'
            'document.querySelectorAll(".report").forEach((node) => {\n'
            '  const item = items[Number(node.dataset.index)];\n'
            '  if (item.report && item.report.faces) renderScrubReport(node, item.report, item.before, item.after);\n'
            '});\n'
            'if (album) renderAlbumPeople(document.querySelector(".album"), album);\n')
    return "\n" + (assets / "report.js").read_text() + "\n" + boot


def content_security_policy(script: str) -> str:
    """Nothing loads from anywhere; only this exact script runs (its SHA-256), so markup
    that got into the page by any route could not run a script of its own."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'")
