"""The HTML report of ``scrub --report``: what it holds by default (no original pixels,
paths or hashes) and with --report-originals (the originals, under a warning), how every
embedded text is escaped, and non-UTF-8 file names (bug 5: the report must be written)."""

from __future__ import annotations

import html
import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_faces import astronaut, encode, run_scrub, two_faces, use_small_models

import infoscrub.cli as cli
from infoscrub.photo_io import decode_photo
from infoscrub.privacy_report import (
    CONTAINS,
    ORIGINALS_WARNING,
    WHOSE_BELIEFS,
    preview_data_url,
    readable,
    render_html,
    script_json,
)


@pytest.fixture(autouse=True)
def small_models(monkeypatch):
    use_small_models(monkeypatch)


run = run_scrub


def images_in(text: str) -> list[str]:
    return re.findall(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", text)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Two photos with faces and one without."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "one.png").write_bytes(encode(astronaut(), "PNG"))
    (inputs / "two.jpg").write_bytes(encode(two_faces(), "JPEG"))
    (inputs / "wall.png").write_bytes(encode(np.full((120, 160, 3), 70, np.uint8), "PNG"))
    return inputs


def original_previews(inputs: Path) -> list[str]:
    return [preview_data_url(decode_photo((inputs / name).read_bytes()).rgb)
            for name in ("one.png", "two.jpg", "wall.png")]


def test_the_default_report_holds_no_original(folder: Path, tmp_path: Path, capsys) -> None:
    (folder / "junk.jpg").write_bytes(b"not a photo")  # its error message names its path
    page = tmp_path / "r.html"
    code, _, _ = run([folder, "--attributes", "Male", "--output", tmp_path / "out", "--copy-faceless",
                      "--report", page, "--report", tmp_path / "r.json"], capsys)
    assert code == 2  # the junk photo; the others are written
    text = page.read_text()
    for original in original_previews(folder):
        assert original not in text  # not one original pixel: not shown, not hidden in the data
    assert len(images_in(text)) == 2  # the two scrubbed photos with faces; none for the faceless copy
    entries = json.loads((tmp_path / "r.json").read_text())["photos"]
    for entry in entries:  # the JSON report has the paths and hashes; the page does not
        assert entry.get("sha256", "no hash") not in text and entry["input"] not in text
    assert str(tmp_path) not in text and "junk.jpg is not an image" in text  # named, not by its path
    assert html.escape(CONTAINS) in text and "ORIGINAL" not in text


def test_report_originals_adds_them_under_a_warning(folder: Path, tmp_path: Path, capsys) -> None:
    page = tmp_path / "r.html"
    code, _, _ = run([folder, "--attributes", "Male", "--output", tmp_path / "out", "--report", page,
                      "--report-originals"], capsys)
    assert code == 3  # the faceless photo: nothing written for it
    text = page.read_text()
    one, two, wall = original_previews(folder)
    assert one in text and two in text
    assert wall not in text  # a photo that is not shown is not carried either
    assert len(images_in(text)) == 4  # before and after of the two photos with faces
    assert html.escape(ORIGINALS_WARNING) in text and 'class="warning"' in text


def test_report_originals_needs_an_html_report(folder: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run([folder, "--attributes", "Male", "--output", tmp_path / "out",
                        "--report", tmp_path / "r.json", "--report-originals"], capsys)
    assert code == 2 and "--report-originals" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_non_utf8_file_name_gets_its_report(tmp_path: Path, capsys, monkeypatch) -> None:
    """b'\\xff' in a name (Python: a surrogate escape): the photos were written, then the
    report failed (exit 1). Now the report is written and shows the name as \\xff; output
    goes through a strict UTF-8 stdout, as in a UTF-8 terminal locale, without failing."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    raw = os.fsencode(inputs) + b"/caf\xe9-\xff.png"
    with open(raw, "wb") as handle:
        handle.write(encode(astronaut(), "PNG"))
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    page, report = tmp_path / "r.html", tmp_path / "r.json"
    code = cli.main(["scrub", str(inputs), "--attributes", "Male", "--output", str(tmp_path / "out"),
                     "--report", str(page), "--report", str(report)])
    strict.flush()
    printed = strict.buffer.getvalue().decode("utf-8")
    assert code == 0, capsys.readouterr().err
    assert os.listdir(os.fsencode(tmp_path / "out")) == [b"caf\xe9-\xff.png"]
    assert "caf\\xe9-\\xff.png" in printed
    text = page.read_text(encoding="utf-8")
    assert "<h2>caf\\xe9-\\xff.png</h2>" in text
    entry = json.loads(report.read_text())["photos"][0]
    assert os.fsencode(entry["input"]) == raw  # the JSON keeps the exact name


@pytest.mark.parametrize("text, shown", [
    ("plain.jpg", "plain.jpg"),
    ("caf\udce9.jpg", "caf\\xe9.jpg"),  # a non-UTF-8 byte, surrogate-escaped
    ("lone\ud800.jpg", "lone\\ud800.jpg"),  # any other lone surrogate
    ("\u00e9t\u00e9.jpg", "\u00e9t\u00e9.jpg"),  # real non-ASCII text stays as it is
])
def test_readable(text: str, shown: str) -> None:
    assert readable(text) == shown
    readable(text).encode("utf-8")  # never raises


def test_script_json_cannot_end_or_reenter_the_script() -> None:
    hostile = ["</script>", "<!--<script>", "-->", "a & b", "\u2028\u2029", "]]>", "<img onerror=x>"]
    text = script_json({"names": hostile})
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == {"names": hostile}


def test_the_report_names_its_attacker_and_carries_the_audit() -> None:
    page = render_html([{"title": "a.jpg", "status": "", "report": None, "before": None, "after": None}])
    assert html.escape(WHOSE_BELIEFS) in page and 'href="#audit"' in page
    audit = page[page.index('<details id="audit">'):page.index("</details>")]
    assert "The four attackers" in audit and "The adaptive attacker" in audit
    assert "<!--" not in audit  # the document's markers are text, escaped


def test_every_name_is_escaped_in_the_markup() -> None:
    names = ["<!--<script>", "</script><script>alert(1)</script>", '"quoted" \'single\'',
             "<img src=x onerror=alert(1)>"]
    items = [{"title": n, "status": n, "report": None, "before": None, "after": None} for n in names]
    page = render_html(items)
    body = page[page.index("<body>"):]
    assert body.count("<script") == 2  # the data and the report's own script, nothing else
    assert "<img" not in body and "<!--" not in body
    policy = re.search(r'content="(default-src[^"]*)"', page).group(1)
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]  # only our script, by hash
