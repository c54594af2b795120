"""The header deadline of the server that ships (service.connections): connections that
send nothing, stall inside their headers or trickle them are closed; a request whose
headers arrive in time is served, however long its body then takes (the app times that)."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import serving
from conftest_faces import make_scrubber

from infoscrub.service.app import create_app
from infoscrub.service.guards import ServiceLimits
from infoscrub.service.connections import http_protocol

HEADER_TIMEOUT = 1.0
STALLED = 12  # of each kind: silent, and stopped inside the headers


@pytest.fixture(scope="module")
def guarded_url():
    limits = ServiceLimits(header_timeout_s=HEADER_TIMEOUT, body_idle_timeout_s=5)
    with serving(create_app(make_scrubber(), limits), http=http_protocol(HEADER_TIMEOUT)) as url:
        yield url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def read_answer(sock: socket.socket) -> bytes:
    """One JSON answer (its head and body may come in separate reads)."""
    reply = b""
    while not reply.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; socket.timeout (a failure) if it never does."""
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply


def request_head(url: str, method: str = "GET", path: str = "/healthz", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n{extra}\r\n".encode()


def test_silent_and_stalled_connections_are_closed_in_time(guarded_url: str) -> None:
    silent = [connect(guarded_url) for _ in range(STALLED)]
    stalled = [connect(guarded_url) for _ in range(STALLED)]
    start = time.monotonic()
    for sock in stalled:
        sock.sendall(request_head(guarded_url)[:30])  # the request line and half a header
    assert httpx.get(f"{guarded_url}/healthz").status_code == 200  # others are still served
    with ThreadPoolExecutor(8) as pool:
        silent_replies = list(pool.map(read_until_closed, silent))
        stalled_replies = list(pool.map(read_until_closed, stalled))
    elapsed = time.monotonic() - start
    for sock in silent + stalled:
        sock.close()
    assert silent_replies == [b""] * STALLED  # nothing was asked: closed without an answer
    assert all(r.startswith(b"HTTP/1.1 408") and b"headers took too long" in r for r in stalled_replies)
    assert HEADER_TIMEOUT * 0.8 < elapsed < HEADER_TIMEOUT + 2.5
    assert httpx.get(f"{guarded_url}/healthz").status_code == 200


def test_trickled_headers_hit_the_deadline(guarded_url: str) -> None:
    """A header byte every 0.1 s: never idle, but the headers are not complete in time."""
    head = request_head(guarded_url, extra="X-Slow: " + "a" * 100 + "\r\n")
    with connect(guarded_url) as sock:
        start = time.monotonic()
        sock.settimeout(0.1)
        reply = b""
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
                reply += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset once closed
                break
            if reply or time.monotonic() - start > 5:
                break
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - start < HEADER_TIMEOUT + 2.5


def test_headers_in_time_are_served_and_the_body_is_the_apps_to_time(guarded_url: str) -> None:
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"attributes\"\r\n\r\nMale\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p\"\r\n\r\n"
            f"junk\r\n--{boundary}--\r\n").encode()
    head = request_head(guarded_url, "POST", "/v1/scrub",
                        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                        f"Content-Length: {len(body)}\r\n")
    with connect(guarded_url) as sock:
        sock.sendall(head[:20])
        time.sleep(HEADER_TIMEOUT * 0.3)  # the rest of the headers, still in time
        sock.sendall(head[20:])
        time.sleep(HEADER_TIMEOUT * 1.5)  # a body later than the header deadline is no header stall
        sock.sendall(body)
        first = read_answer(sock)
        assert first.startswith(b"HTTP/1.1 415") and b"not an image" in first
        # kept alive: the next request's headers get their own deadline
        sock.sendall(request_head(guarded_url)[:25])
        start = time.monotonic()
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - start < HEADER_TIMEOUT + 2.5


def test_the_timeout_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="header timeout"):
            http_protocol(bad)
