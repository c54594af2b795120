"""The upload page and the HTML report file in a real (headless Debian) Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_faces import encode, make_scrubber, two_faces

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium"),
]


@pytest.fixture()
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1600})
            page.fetched, page.csp_errors = [], []
            page.on("request", lambda request: page.fetched.append(request.url))
            page.on("console", lambda message: "Content Security Policy" in message.text
                    and page.csp_errors.append(message.text))
            yield page
        finally:
            browser.close()


def test_upload_shows_the_photo_faces_and_beliefs(server_url: str, tmp_path: Path, browser_page) -> None:
    page = browser_page
    photo = tmp_path / "two.jpg"
    photo.write_bytes(encode(two_faces(), "JPEG"))
    page.goto(f"{server_url}/")
    page.wait_for_selector("input[name=attribute][value=Male]")
    assert page.is_hidden("#result")  # nothing to show yet
    page.check("input[name=attribute][value=Male]")
    page.check("input[name=mode][value=obfuscate]")
    page.set_input_files("#photo", str(photo))
    page.click("#submit")
    # The page's CSP forbids eval, which wait_for_function needs: wait on selectors.
    page.wait_for_selector("#status:text-is('Done.')", timeout=60_000)
    assert page.is_visible("#result")
    assert "2 face(s) found" in page.text_content("#report")
    assert page.locator(".compare svg.boxes rect").count() == 2  # numbered face boxes
    assert page.locator(".compare svg.boxes text").all_text_contents() == ["0", "1"]
    assert page.locator(".photo input.slider").count() == 1
    assert page.locator(".face .belief-chart").count() == 2
    assert page.locator(".face .belief-chart .belief").count() >= 2  # the chosen attributes
    assert "An attacker who was" in page.text_content(".face .plain")
    assert page.locator(".face details.others").count() == 2  # the rest, folded
    page.fill(".photo input.slider", "10")  # the slider moves the after image's edge
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 10_000
    # nothing from elsewhere, and nothing the page's CSP had to block
    assert all(url.startswith((server_url, "blob:", "data:")) for url in page.fetched)
    assert page.csp_errors == []


def test_an_error_is_shown_in_one_line(server_url: str, tmp_path: Path, browser_page) -> None:
    page = browser_page
    junk = tmp_path / "notes.jpg"
    junk.write_text("not a photo at all")
    page.goto(f"{server_url}/")
    page.wait_for_selector("input[name=attribute][value=Male]")
    page.set_input_files("#photo", str(junk))
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=30_000)
    message = page.text_content("#status")
    assert "not an image" in message and "\n" not in message
    assert page.is_hidden("#result")


def test_the_html_report_file_draws_itself_offline(tmp_path: Path, browser_page, monkeypatch) -> None:
    import infoscrub.cli as cli
    from infoscrub.scrubber import Scrubber

    scrubber = make_scrubber()
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))
    source = tmp_path / "two.jpg"
    source.write_bytes(encode(two_faces(), "JPEG"))
    report = tmp_path / "report.html"
    assert cli.main(["scrub", str(source), "--attributes", "Male,Young", "--output", str(tmp_path / "o.jpg"),
                     "--report", str(report), "--report", str(tmp_path / "report.json")]) == 0
    text = report.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    page = browser_page
    page.goto(report.as_uri())
    page.wait_for_selector(".face .belief-chart")
    # by default the scrubbed photo alone: no original, no slider, and a note of what the file holds
    assert page.locator(".face").count() == 2 and page.locator(".compare img").count() == 1
    assert page.locator(".photo input.slider").count() == 0 and page.is_visible("p.contains")
    assert all(url.startswith(("file:", "data:")) for url in page.fetched)
    assert page.csp_errors == []
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.json").is_file()


def test_several_photos_are_scrubbed_as_an_album(album_server_url: str, tmp_path: Path, browser_page) -> None:
    from conftest_faces import astronaut, tinted_astronaut

    page = browser_page
    paths = []
    for name, image in (("a.jpg", astronaut()), ("b.jpg", two_faces()), ("c.jpg", tinted_astronaut())):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(encode(image, "JPEG"))
    page.goto(f"{album_server_url}/")
    page.wait_for_selector("input[name=attribute][value=Male]")
    assert page.is_visible("#album-note")
    page.set_input_files("#photo", [str(p) for p in paths])
    page.click("#submit")
    page.wait_for_selector("#status:text-is('Done.')", timeout=60_000)
    assert page.is_visible("#album-result") and page.is_hidden("#result")
    assert page.locator("#people tbody tr").count() == 2
    assert "a.jpg, b.jpg" in page.text_content("#people tbody tr:first-child")
    assert page.locator("#album-photos .face").count() == 4
    assert page.locator("#album-photos a[download]").count() == 3
    assert page.csp_errors == []


def test_the_album_report_file_lists_the_people(tmp_path: Path, browser_page, monkeypatch) -> None:
    from conftest_faces import ColourEmbedder, astronaut, tinted_astronaut

    import infoscrub.cli as cli
    from infoscrub.faces import identity
    from infoscrub.scrubber import Scrubber

    scrubber = make_scrubber()
    scrubber.identity = ColourEmbedder()
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))
    monkeypatch.setattr(identity, "shared_embedder", ColourEmbedder)
    folder = tmp_path / "album"
    folder.mkdir()
    for name, image in (("a.jpg", astronaut()), ("b.jpg", two_faces()), ("c.jpg", tinted_astronaut())):
        (folder / name).write_bytes(encode(image, "JPEG"))
    report = tmp_path / "album.html"
    assert cli.main(["scrub", str(folder), "--album", "--attributes", "Male", "--output", str(tmp_path / "out"),
                     "--report", str(report)]) == 0
    page = browser_page
    page.goto(report.as_uri())
    page.wait_for_selector(".album table")
    assert page.locator(".album tbody tr").count() == 2
    assert page.locator(".face").count() == 4


# ------------------------------------------------------------------ hostile names (bug 4)
# Names that would change the page's structure if any were pasted into it unescaped: an
# HTML comment opener before a script tag (which used to swallow the report's script and
# blank every photo), script ends, handlers, quotes, CDATA ends, line separators, entities,
# bidi overrides, a non-UTF-8 byte and a very long name.
HOSTILE = ["<!--<script>", "</script><script>document.title='pwned'</script>",
           "<img src=x onerror=\"document.title='pwned'\">", "\"double\" 'single' `back`", "]]><![CDATA[",
           "line\u2028separator\u2029paragraph", "&amp; &lt;b&gt; &#60;", "</style><style>*{display:none}</style>",
           "<svg onload=alert(1)>", "-->", "\u202eevil\u202c.jpg", "caf\udce9", "x" * 100_000]


def hostile_page_checks(page, titles: list[str]) -> None:
    """The page kept its structure: one section per photo, every title shown as text (in
    any order: a folder's photos come in the order of their paths)."""
    assert page.title() == "infoscrub privacy report"
    shown = page.locator("main > section.item:not(.album) h2").all_text_contents()
    assert sorted(shown) == sorted(titles) and len(shown) == len(titles)
    assert page.locator("script").count() == 2  # the data and the report's script: no other
    assert page.csp_errors == []


def test_hostile_names_cannot_change_the_report_page(tmp_path: Path, browser_page) -> None:
    """Every hostile name as a title, a status, a person's name and an album photo, in a
    report with originals (the most the page can hold)."""
    import numpy as np

    from infoscrub.privacy_report import preview_data_url, readable, render_html

    picture = preview_data_url(np.full((48, 64, 3), 120, np.uint8))
    items, people = [], []
    for k, name in enumerate(HOSTILE):
        face = {"index": 0, "box": [8, 8, 40, 40], "edited": True, "person": k, "person_name": name,
                "attacker": {"Male": {"p_before": 0.9, "p_after": 0.2}}}
        report = {"mode": "invert", "strength": 1.0, "attributes": ["Male"], "width": 64, "height": 48,
                  "faces_found": 1, "faces": [face], "phrases": {"Male": "is a man"}}
        items.append({"title": name, "status": name, "report": report, "before": picture, "after": picture})
        people.append({"person": k, "name": name, "faces": 1, "photos": [f"/somewhere/{name.replace('/', '_')}"],
                       "in_photos": [], "edited": True, "outcome": {"Male": {"value": "present", "shown": "absent"}},
                       "attacker_over_album": {}})
    album = {"people": people, "faces": len(HOSTILE), "photos": len(HOSTILE), "grouping": {"threshold": 0.6}}
    report = tmp_path / "hostile.html"
    report.write_text(render_html(items, album, originals=True), encoding="utf-8")
    page = browser_page
    page.goto(report.as_uri())
    page.wait_for_selector(".album table")
    shown = [readable(name) for name in HOSTILE]
    hostile_page_checks(page, shown)
    assert page.locator("main > section.item:not(.album) h2").all_text_contents() == shown
    assert page.is_visible("p.warning")  # the originals are in this file, and the page says so
    assert page.locator("section.item p.muted").all_text_contents()[-len(HOSTILE):] == shown
    assert page.locator(".album tbody td:first-child").all_text_contents() == shown
    assert page.locator(".face h3").all_text_contents() == [f"Face 0 — {name}" for name in shown]
    assert page.locator(".face").count() == len(HOSTILE)
    assert page.locator(".photo input.slider").count() == len(HOSTILE)
    assert page.locator("img").count() == 2 * len(HOSTILE)  # before and after, no injected image


def test_hostile_file_names_through_scrub_report(tmp_path: Path, browser_page, monkeypatch) -> None:
    """The same through `scrub --report` with real files (a Linux file name holds no '/', so
    '</script>' is left to the test above; the folder's name is hostile too, and the page
    names a failed photo by its file name, not its path)."""
    import os

    from conftest_faces import astronaut

    import infoscrub.cli as cli
    from infoscrub.privacy_report import readable
    from infoscrub.scrubber import Scrubber

    scrubber = make_scrubber()
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))
    folder = tmp_path / "<!--<script>x<"
    folder.mkdir()
    # (not much longer: photo_io's temporary ".NAME.xxxxxxxx.tmp" would pass the 255-byte limit)
    names = [b"<!--<script>.jpg", b"<img src=x onerror=alert(1)>.jpg", b"\"q\" 'q' & ]]>.jpg",
             "sep\u2028line\u2029.jpg".encode(), b"\xff\xfe<!--.jpg", b"n" * 220 + b".jpg"]
    face = encode(astronaut(), "JPEG")  # one face
    for name in names:
        with open(os.fsencode(folder) + b"/" + name, "wb") as handle:
            handle.write(face)
    (folder / "script>.jpg").write_bytes(b"not a photo")  # its path holds "x</script>.jpg"
    report = tmp_path / "report.html"
    code = cli.main(["scrub", str(folder), "--attributes", "Male", "--output", str(tmp_path / "out"),
                     "--report", str(report)])
    assert code == 2  # the junk photo; every other one is written and reported
    page = browser_page
    page.goto(report.as_uri())
    page.wait_for_selector(".face .belief-chart")
    hostile_page_checks(page, [readable(os.fsdecode(n)) for n in [*names, b"script>.jpg"]])
    assert page.locator(".face").count() == len(names) and page.locator("img").count() == len(names)
    main = page.text_content("main")
    assert "script>.jpg is not an image" in main and "x</script>" not in main  # its message, no path
    assert page.is_visible("p.contains")


def test_album_page_names_and_faceless_photos(album_server_url: str, tmp_path: Path, browser_page) -> None:
    """Hostile upload names stay text on the page; a photo with no face has no download link
    and says why (bug 6's rule: named, never dropped or passed off as scrubbed)."""
    import numpy as np
    from conftest_faces import astronaut, tinted_astronaut

    page = browser_page
    # Chromium percent-encodes quotes in multipart file names: no quotes here
    photos = {"<!--<script>a.jpg": astronaut(), "<img src=x onerror=alert(1)>.jpg": tinted_astronaut(),
              "wall & ]]>.png": np.full((120, 160, 3), 70, np.uint8)}
    paths = []
    for name, image in photos.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(encode(image, "PNG" if name.endswith(".png") else "JPEG"))
    page.goto(f"{album_server_url}/")
    page.wait_for_selector("input[name=attribute][value=Male]")
    page.set_input_files("#photo", [str(p) for p in paths])
    page.click("#submit")
    page.wait_for_selector("#status:has-text('Done.')", timeout=60_000)
    assert "No face found in 1 photo(s)" in page.text_content("#status")
    assert page.locator("#album-photos section.item h2").all_text_contents() == list(photos)
    links = page.locator("#album-photos a[download]")
    assert [links.nth(k).get_attribute("download") for k in range(links.count())] == list(photos)[:2]
    assert "detector missed it" in page.text_content("#album-photos .no-face")
    assert page.locator("#album-photos img[src='x']").count() == 0
    assert page.csp_errors == []
