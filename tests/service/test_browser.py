"""One end-to-end run of the upload page in a real (headless Debian) Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_faces import encode, two_faces

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium"),
]


def test_upload_shows_result_and_report(server_url: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    photo = tmp_path / "two.jpg"
    photo.write_bytes(encode(two_faces(), "JPEG"))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            fetched, csp_errors = [], []
            page.on("request", lambda request: fetched.append(request.url))
            page.on("console", lambda message: "Content Security Policy" in message.text
                    and csp_errors.append(message.text))
            page.goto(f"{server_url}/")
            page.wait_for_selector("input[name=attribute][value=Male]")
            page.check("input[name=attribute][value=Male]")
            page.check("input[name=mode][value=obfuscate]")
            page.set_input_files("#photo", str(photo))
            page.click("#submit")
            # The page's CSP forbids eval, which wait_for_function needs: poll from here.
            page.wait_for_selector("#status:text-is('Done.')", timeout=60_000)
            for _ in range(100):
                if page.evaluate("document.getElementById('after').naturalWidth") > 0:
                    break
                page.wait_for_timeout(100)
            size = page.evaluate("[document.getElementById('after').naturalWidth,"
                                 " document.getElementById('after').naturalHeight]")
            assert size == [1024, 512]
            assert page.evaluate("document.getElementById('before').naturalWidth") == 1024
            assert "2 face(s) found" in page.text_content("#report")
            assert page.locator("#report table").count() == 2
            # nothing from elsewhere, and nothing the page's CSP had to block
            assert all(url.startswith((server_url, "blob:", "data:")) for url in fetched)
            assert csp_errors == []
        finally:
            browser.close()
