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
    assert page.locator(".face").count() == 2 and page.locator(".compare img").count() == 2
    assert all(url.startswith(("file:", "data:")) for url in page.fetched)
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
