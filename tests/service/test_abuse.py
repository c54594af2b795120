"""Hostile clients: huge, stalled and trickling uploads, a busy service, foreign Host
headers, a crashing pipeline, and pages that would load things from elsewhere."""

from __future__ import annotations

import copy
import logging
import re
import socket
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import serving
from conftest_faces import astronaut, encode, make_scrubber

from infoscrub.service.app import create_app, static_dir
from infoscrub.service.connections import http_protocol
from infoscrub.service.guards import ServiceLimits

BOUNDARY = b"abuse-boundary"


@pytest.fixture(scope="module")
def scrubber():
    return make_scrubber()


def form_body(photo: bytes) -> bytes:
    """A multipart form: attributes=Male and the photo."""
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n'
            b"Male\r\n--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="photo"; '
            b'filename="p"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + photo + b"\r\n--" + BOUNDARY + b"--\r\n")


def head(url: str, length: int) -> bytes:
    host = urlsplit(url).netloc
    return (f"POST /v1/scrub HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n\r\n").encode()


def connect(url: str, timeout: float = 5) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; socket.timeout if it never does."""
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply


def test_declared_oversize_is_refused_at_once_and_closed(server_url: str) -> None:
    with connect(server_url) as sock:
        sock.sendall(head(server_url, 10**9))
        start = time.monotonic()
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 413") and b'"error"' in reply
    assert time.monotonic() - start < 2


def test_concurrent_junk_uploads_are_spooled_not_held(scrubber) -> None:
    """8 junk uploads of 3.5 MB at once: before, every body was held whole in memory
    (~28 MB and more); now the bodies wait on disk and one at a time is read to decode."""
    size = int(3.5 * 2**20)
    limits = ServiceLimits(max_upload_bytes=4 * 2**20, workers=1, max_waiting=8,
                           spool_memory_bytes=64 * 1024, spool_memory_total=256 * 1024)
    app = create_app(scrubber, limits)
    body = form_body(b"\x00junk" * (size // 5))  # built before tracing: not counted

    with serving(app) as url:
        request = head(url, len(body))

        def upload(_):
            with connect(url, timeout=30) as sock:
                sock.sendall(request)
                sock.sendall(body)
                return sock.recv(65536).split(b"\r\n", 1)[0]

        tracemalloc.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(upload, range(8)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert statuses == [b"HTTP/1.1 415 Unsupported Media Type"] * 8
    assert app.state.memory_budget.peak <= limits.spool_memory_total
    assert app.state.memory_budget.used == 0
    assert peak < 4 * size, f"peak traced memory {peak / 2**20:.1f} MB"


@pytest.fixture(scope="module")
def slow_client_url(scrubber):
    limits = ServiceLimits(max_upload_bytes=2**20, body_idle_timeout_s=0.5,
                           body_deadline_s=1.5)
    # the protocol `infoscrub serve` runs: header deadline and lingering close
    with serving(create_app(scrubber, limits), http=http_protocol(limits.header_timeout_s)) as url:
        yield url


def test_stalled_upload_gets_408_and_is_closed(slow_client_url: str) -> None:
    url = slow_client_url
    with connect(url) as sock:
        sock.sendall(head(url, 100_000) + b"--" + BOUNDARY + b"\r\n")
        start = time.monotonic()
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"too slow" in reply
    assert 0.4 < time.monotonic() - start < 2


def test_trickling_upload_hits_the_deadline(slow_client_url: str) -> None:
    """A byte every 0.1 s never trips the idle timeout, but the body deadline ends it."""
    url = slow_client_url
    with connect(url) as sock:
        sock.sendall(head(url, 100_000))
        start = time.monotonic()
        sock.settimeout(0.1)
        reply = b""
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"x")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset once closed
                break
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408")
    assert 1.4 < time.monotonic() - start < 3


def test_undeclared_oversize_is_cut_off_while_it_arrives(slow_client_url: str) -> None:
    """A chunked body (no Content-Length) is counted as it comes: 413 past the 1 MB limit,
    though the body goes on."""
    url = slow_client_url
    chunk = b"%x\r\n" % 65536 + bytes(65536) + b"\r\n"
    request = head(url, 0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    with connect(url) as sock:
        sock.sendall(request + chunk * 19)  # 1.19 MB, then neither more nor the end
        reply = read_until_closed(sock)
    # 413, not the 408 that the body's 1.5 s deadline would give: cut off by its size
    assert reply.startswith(b"HTTP/1.1 413") and b"over the limit" in reply


def test_a_refusal_reaches_a_client_that_keeps_sending(slow_client_url: str) -> None:
    """The server refuses a 3 MB upload at 1 MB while the client is still sending: it
    half-closes and drops the rest (the lingering close), so the client reads the 413
    instead of losing it to a connection reset."""
    url = slow_client_url
    chunk = b"%x\r\n" % 65536 + bytes(65536) + b"\r\n"
    request = head(url, 0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")

    def send(sock: socket.socket) -> None:
        try:
            sock.sendall(request + chunk * 48)
        except OSError:  # the server may close before all of it went
            pass

    for _ in range(3):
        with connect(url) as sock:
            sender = threading.Thread(target=send, args=(sock,))
            sender.start()
            reply = read_until_closed(sock)
            sender.join(10)
        assert reply.startswith(b"HTTP/1.1 413") and b"over the limit" in reply


def test_busy_answer_has_retry_after(scrubber) -> None:
    entered, release = threading.Event(), threading.Event()
    blocking = copy.copy(scrubber)

    def scrub_request(*args, **kwargs):
        entered.set()
        release.wait(10)
        return scrubber.scrub_request(*args, **kwargs)

    blocking.scrub_request = scrub_request
    limits = ServiceLimits(workers=1, max_waiting=0, retry_after_s=7)
    photo = {"photo": ("p.jpg", encode(astronaut(), "JPEG"))}
    with serving(create_app(blocking, limits)) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}/v1/scrub", files=photo,
                            data={"attributes": "Male"}, timeout=30)
        assert entered.wait(10)
        busy = httpx.post(f"{url}/v1/scrub", files=photo, data={"attributes": "Male"})
        release.set()
        assert first.result().status_code == 200
    assert busy.status_code == 503 and "busy" in busy.json()["error"]
    assert busy.headers["retry-after"] == "7"


def test_unknown_host_is_refused(server_url: str) -> None:
    port = urlsplit(server_url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert httpx.get(f"{server_url}/healthz", headers={"Host": host}).status_code == 200
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
        reply = httpx.get(f"{server_url}/", headers={"Host": host})
        assert reply.status_code == 400 and reply.json() == {"error": "unknown Host header"}


def status_for(url: str, host: str) -> int:
    return httpx.get(f"{url}/healthz", headers={"Host": host}).status_code


def test_extra_allowed_hosts(scrubber) -> None:
    with serving(create_app(scrubber, allowed_hosts=["scrub.lan", "::1"])) as url:
        assert status_for(url, "scrub.lan:8000") == 200 and status_for(url, "[::1]") == 200
        assert status_for(url, "127.0.0.1") == 400
    with serving(create_app(scrubber, allowed_hosts=["*"])) as url:
        assert status_for(url, "a.example") == 200


def test_pipeline_crash_is_a_json_500_and_logged(scrubber, caplog) -> None:
    broken = copy.copy(scrubber)

    def scrub_request(*args, **kwargs):
        raise RuntimeError("secret detail at /home/someone/model.pt")

    broken.scrub_request = scrub_request
    with serving(create_app(broken)) as url, caplog.at_level(logging.ERROR,
                                                             "infoscrub.service"):
        reply = httpx.post(f"{url}/v1/scrub", data={"attributes": "Male"},
                           files={"photo": ("p.png", encode(astronaut(), "PNG"))})
        # bad input is still the client's fault, not a crash
        junk = httpx.post(f"{url}/v1/scrub", data={"attributes": "Male"},
                          files={"photo": ("p.png", b"junk")})
    assert reply.status_code == 500 and reply.json() == {"error": "internal error"}
    assert "secret" not in reply.text and "Traceback" not in reply.text
    assert junk.status_code == 415
    logged = [r for r in caplog.records if r.name == "infoscrub.service"]
    assert len(logged) == 1 and "POST /v1/scrub" in logged[0].getMessage()
    assert "secret detail" in str(logged[0].exc_info[1])


def test_no_docs_pages_and_nothing_loaded_from_elsewhere(server_url: str) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert httpx.get(f"{server_url}{path}").status_code == 404
    schema = httpx.get(f"{server_url}/openapi.json")
    assert schema.status_code == 200 and "://" not in schema.text
    page = httpx.get(f"{server_url}/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("index.html", "app.js", "style.css"):
        text = (static_dir() / name).read_text()
        assert not re.search(r"://|[\"'(]//|@import", text), name
    # every src/href on the page is a path on this server
    assert all(ref.startswith("/") and not ref.startswith("//")
               for ref in re.findall(r'(?:src|href)="([^"]*)"', page.text))
