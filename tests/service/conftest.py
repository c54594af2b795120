"""Real uvicorn servers on 127.0.0.1 (free port, background thread) for the API tests."""

import contextlib
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

# tests/conftest_faces.py holds the helpers shared with the top-level photo tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(app, **config):
    """Serve ``app`` with uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server_url():
    from conftest_faces import make_scrubber

    from infoscrub.service.app import create_app
    from infoscrub.service.guards import ServiceLimits

    limits = ServiceLimits(max_upload_bytes=2 * 2**20, max_pixels=4_000_000, max_waiting=8)
    with serving(create_app(make_scrubber(), limits)) as url:
        yield url


@pytest.fixture(scope="session")
def album_server_url():
    """A server whose scrubber groups faces with the stand-in embedder (albums of 3 at most)."""
    from conftest_faces import ColourEmbedder, make_scrubber

    from infoscrub.service.app import create_app
    from infoscrub.service.guards import ServiceLimits

    scrubber = make_scrubber()
    scrubber.identity = ColourEmbedder()
    limits = ServiceLimits(max_upload_bytes=2 * 2**20, max_pixels=4_000_000, max_album_photos=3,
                           max_album_bytes=5 * 2**20)
    with serving(create_app(scrubber, limits)) as url:
        yield url
