"""Screenshot the upload page after a real scrub, for the README (needs Debian's chromium and
the test extras). Without --checkpoint / --attacker: the bundled weights.

    .venv/bin/python scripts/readme_screenshot.py --photo docs/images/astronaut.jpg --out /tmp/report_page.png
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="editor weights (default: the bundled ones)")
    parser.add_argument("--attacker", default=None, help="attacker weights (default: the bundled ones)")
    parser.add_argument("--photo", required=True)
    parser.add_argument("--attributes", default="Male,Smiling")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from infoscrub.scrubber import Scrubber
    from infoscrub.service.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Scrubber.load(args.checkpoint, attacker=args.attacker))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("input[name=attribute][value=Male]")
            for box in page.locator("input[name=attribute]").all():
                box.uncheck()
            for name in args.attributes.split(","):
                page.check(f"input[name=attribute][value={name}]")
            page.set_input_files("#photo", args.photo)
            page.click("#submit")
            page.wait_for_selector("#status:text-is('Done.')", timeout=120_000)
            page.locator("#result").screenshot(path=args.out)
            browser.close()
    finally:
        server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
