"""The service's guards, apart from its routes: the limits, the refusals as HTTP errors,
the Host check (no DNS rebinding), the catch-all that turns a bug into a logged JSON 500,
the gate (a bounded number of requests in the pipeline, a bounded number waiting), and the
request body spooled while it arrives (a little in memory, the rest on disk), cut off at
the upload limit and dropped with a 408 when the client stalls. The headers' own timeout is
the server protocol's (``service.connections``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, Headers
from starlette.formparsers import MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("infoscrub.service")

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
CHUNK = 64 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields around the photo


@dataclass(frozen=True)
class ServiceLimits:
    max_upload_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    workers: int = 2  # requests in the pipeline at once (one per core on the 2-core target)
    max_waiting: int = 8  # requests queued behind those; more get 503
    wait_timeout_s: float = 120.0
    retry_after_s: int = 5  # what a 503 tells the client to wait
    body_idle_timeout_s: float = 10.0  # no body bytes for this long: 408
    body_deadline_s: float = 120.0  # the whole body must have arrived by then: 408
    header_timeout_s: float = 10.0  # the headers must have arrived by then (the server's protocol)
    spool_memory_bytes: int = 256 * 1024  # of one upload kept in memory; the rest on disk
    spool_memory_total: int = 8 * 1024 * 1024  # the same across all uploads at once
    max_album_photos: int = 12  # photos in one album upload (each under max_upload_bytes)
    max_album_bytes: int = 60 * 1024 * 1024  # the whole album upload


class ServiceError(Exception):
    """A refusal with its HTTP status; becomes ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def too_large(limit: int) -> ServiceError:
    # Close: the rest of the body is not worth reading.
    return ServiceError(413, f"upload is over the limit of {limit / 2**20:g} MB",
                        {"Connection": "close"})


def configure_threads(workers: int) -> int:
    """Threads per request for torch and OpenCV: the pipeline already runs ``workers``
    requests at once, so each gets its share of the cores. More would oversubscribe them:
    on 2 cores, 1 thread per request measured 12.4 requests/s against 11.0 with 2
    (benchmarks/service_load.py)."""
    import cv2
    import torch

    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    return threads


class Gate:
    """At most ``workers`` requests in the pipeline and ``max_waiting`` queued; the rest are
    told the service is busy instead of piling up decoded photos in memory. The pipeline
    runs on ``workers`` threads of its own: every thread that ever held a whole upload keeps
    a malloc arena of about its size, so few threads means less memory kept."""

    def __init__(self, limits: ServiceLimits):
        self.limits = limits
        self._threads = ThreadPoolExecutor(limits.workers, thread_name_prefix="infoscrub")
        self._work = asyncio.Semaphore(limits.workers)
        self._admitted = 0  # running or waiting; only the event loop's thread counts

    def busy(self) -> ServiceError:
        return ServiceError(503, "the service is busy; try again in a moment",
                            {"Retry-After": str(self.limits.retry_after_s)})

    async def run(self, fn, *args):
        if self._admitted >= self.limits.workers + self.limits.max_waiting:
            raise self.busy()
        self._admitted += 1
        try:
            try:
                await asyncio.wait_for(self._work.acquire(), self.limits.wait_timeout_s)
            except asyncio.TimeoutError:
                raise self.busy() from None
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._threads, forgetful, fn, *args)
            finally:
                self._work.release()
        finally:
            self._admitted -= 1


def forgetful(fn, *args):
    """``fn(*args)``; an exception leaves without the local variables of its frames. They hold
    the upload and the decoded photo, and the exception outlives this call in reference
    cycles: free them now rather than at the next garbage collection."""
    try:
        return fn(*args)
    except BaseException as exc:
        clear_frames(exc)
        raise


def clear_frames(exc: BaseException | None) -> None:
    """Drop the local variables of the finished frames in ``exc``'s traceback and those of
    the exceptions it chains to; the traceback itself still prints."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


class MemoryBudget:
    """Upload bytes held in memory by all requests together. Only the event loop's thread
    touches it, so it needs no lock."""

    def __init__(self, total: int):
        self.total = total
        self.used = 0
        self.peak = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.total:
            return False
        self.used += size
        self.peak = max(self.peak, self.used)
        return True


class BodySpool:
    """One request body: in memory while it is small and the shared budget allows, then in
    an anonymous temporary file."""

    def __init__(self, budget: MemoryBudget, in_memory: int):
        self.budget = budget
        self.in_memory = in_memory
        self.file: Any = io.BytesIO()
        self.held = 0  # bytes of ours counted in the budget
        self.on_disk = False
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if not self.on_disk and (self.held + len(chunk) > self.in_memory
                                 or not self.budget.take(len(chunk))):
            disk = tempfile.TemporaryFile()  # noqa: SIM115 (closed in release())
            disk.write(self.file.getvalue())
            self.release()
            self.file, self.on_disk = disk, True
        elif not self.on_disk:
            self.held += len(chunk)
        # A chunk to the page cache: cheaper than a hop to a worker thread.
        self.file.write(chunk)
        self.size += len(chunk)

    def release(self) -> None:
        self.budget.used -= self.held
        self.held = 0
        self.file.close()

    async def chunks(self):
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk


class HostCheck:
    """Answers only requests addressed to a known Host name: a web page elsewhere cannot
    reach a loopback service through a DNS name that it points at 127.0.0.1."""

    def __init__(self, app: ASGIApp, allowed_hosts: set[str]):
        self.app = app
        self.allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            host = host_name(Headers(scope=scope).get("host", ""))
            if host not in self.allowed:
                response = JSONResponse({"error": "unknown Host header"}, status_code=400)
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class CatchAll:
    """Any unexpected exception: logged with its traceback here, answered with a JSON 500
    that gives nothing away."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], scope["path"])
            if started:  # too late for an answer: the server drops the connection
                raise
            response = JSONResponse({"error": "internal error"}, status_code=500)
            await response(scope, receive, send)


def host_name(value: str) -> str:
    """The name part of a Host header or address, lower case, IPv6 in brackets:
    'Example.org:8000' -> 'example.org', '[::1]:80' and '::1' -> '[::1]'."""
    value = value.strip().lower()
    if value.count(":") > 1 and not value.startswith("["):
        return f"[{value}]"  # a bare IPv6 address (as --host takes it)
    if value.rfind(":") > value.rfind("]"):
        value = value[:value.rfind(":")]
    return value


async def receive_body(request: Request, limits: ServiceLimits, budget: MemoryBudget,
                       upload_limit: int | None = None) -> BodySpool:
    """The body, spooled as it arrives; refused as soon as it passes the upload limit
    (declared or actual; ``upload_limit``, default one photo's) and when the client stalls
    or takes too long."""
    upload_limit = limits.max_upload_bytes if upload_limit is None else upload_limit
    limit = upload_limit + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ServiceError(400, "bad Content-Length header", {"Connection": "close"})
        if int(declared) > limit:
            raise too_large(upload_limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_deadline_s
    chunks = request.stream()
    body = BodySpool(budget, limits.spool_memory_bytes)
    try:
        while True:
            wait = min(limits.body_idle_timeout_s, deadline - loop.time())
            try:
                chunk = await asyncio.wait_for(anext(chunks, None), max(wait, 0))
            except asyncio.TimeoutError:
                raise ServiceError(408, "the upload was too slow; the connection is closed",
                                   {"Connection": "close"}) from None
            if chunk is None:
                return body
            if body.size + len(chunk) > limit:
                raise too_large(upload_limit)
            body.write(chunk)
    except ClientDisconnect:
        body.release()
        raise ServiceError(400, "the client went away during the upload") from None
    except BaseException:
        body.release()
        raise


async def parse_form(request: Request, body: BodySpool, limits: ServiceLimits, max_files: int = 1) -> FormData:
    parser = MultiPartParser(request.headers, body.chunks(), max_files=max_files, max_fields=8,
                             max_part_size=FORM_OVERHEAD)
    parser.spool_max_size = limits.spool_memory_bytes  # the photo part: the rest on disk
    try:
        return await parser.parse()
    except Exception as exc:  # noqa: BLE001 (malformed multipart: exception types vary)
        if "Too many files" in str(exc):
            raise ServiceError(413, f"one request takes at most {max_files} photo(s)") from None
        if "Part exceeded maximum size" in str(exc):  # only parts without filename= are capped
            raise ServiceError(400, f"a form part with no filename is over {FORM_OVERHEAD // 1024} KB; "
                                    "send every photo as a file") from None
        raise ServiceError(400, f"malformed form data: {' '.join(str(exc).split())}") from None
