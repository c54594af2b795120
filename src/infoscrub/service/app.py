"""The web service: ``POST /v1/scrub``, ``GET /v1/attributes``, ``GET /healthz`` and a small
page at ``/`` for people.

Guards: only known Host names are served (no DNS rebinding); the request headers must
arrive within ``header_timeout_s`` (``service.connections``, in the server's protocol); the
request body is spooled while it arrives (a little of it in memory, the rest on disk), cut
off at the upload limit and dropped with a 408 when the client stalls; the photo is
recognised by its content (never its name or declared type) and refused above the pixel
limit before decoding; nothing a client sends is used as a path; a bounded number of
requests run at once (the ``Scrubber`` is thread-safe) with a bounded number waiting; every
refusal is a 4xx JSON body ``{"error": "..."}`` and any unexpected failure a logged JSON 500
without details.

A photo with no face is never returned as if it were scrubbed: ``/v1/scrub`` answers 422,
and ``/v1/album`` names it with status ``no_face`` and no image (422 when no photo of the
album has a face), saying that a face the detector missed was not scrubbed.
"""

from __future__ import annotations

import asyncio
import os
import base64
import io
import json
import logging
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import NotAPhoto, PhotoTooLarge, decode_photo, encode_photo
from infoscrub.privacy_report import report_assets_dir
from infoscrub.edit_request import MODES, Target
from infoscrub.scrubber import Scrubber

log = logging.getLogger("infoscrub.service")

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
CHUNK = 64 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields around the photo
# The page loads only its own files; the photos it shows are blob: and data: URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


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


def static_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "service" / "static"))


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


def create_app(scrubber: Scrubber, limits: ServiceLimits | None = None,
               allowed_hosts: list[str] | tuple[str, ...] = LOOPBACK_HOSTS) -> FastAPI:
    limits = limits or ServiceLimits()
    gate = Gate(limits)
    budget = MemoryBudget(limits.spool_memory_total)
    # No /docs or /redoc: their pages load Swagger UI and ReDoc from a CDN. /openapi.json is
    # plain JSON about the routes, which the page shows anyway.
    app = FastAPI(title="infoscrub", version="1", docs_url=None, redoc_url=None)
    app.state.memory_budget = budget
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.mount("/report", StaticFiles(directory=report_assets_dir()), name="report")  # shared with report.html
    app.add_middleware(CatchAll)
    app.add_middleware(HostCheck, allowed_hosts={host_name(h) for h in allowed_hosts})

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(static_dir() / "index.html", media_type="text/html",
                            headers=PAGE_HEADERS)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/attributes")
    async def attributes() -> dict:
        return {"attributes": scrubber.attributes, "modes": list(MODES),
                "alignment": scrubber.editor.alignment,
                "image_size": int(scrubber.editor.image_size),
                "attacker": scrubber.attacker is not None,
                "album": album_available(scrubber),
                "limits": asdict(limits)}

    @app.post("/v1/scrub")
    async def scrub(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ServiceError(415, "send the photo as multipart/form-data with a 'photo' field")
        body = await receive_body(request, limits, budget)
        try:
            form = await parse_form(request, body, limits)
        finally:
            body.release()
        try:
            fields = read_fields(form, limits)
            result = await gate.run(scrub_upload, scrubber, limits, fields)
        finally:
            await form.close()
        data, media_type, report = result
        if fields["response"] == "image":
            return Response(data, media_type=media_type,
                            headers={"X-Infoscrub-Faces": str(report["faces_found"])})
        return JSONResponse({"report": report, "media_type": media_type,
                             "image": base64.b64encode(data).decode("ascii")})

    @app.post("/v1/album")
    async def album(request: Request) -> Response:
        """Several photos as one album: every person gets one edit in all of them."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ServiceError(415, "send the photos as multipart/form-data with 'photos' fields")
        body = await receive_body(request, limits, budget, limits.max_album_bytes)
        try:
            form = await parse_form(request, body, limits, limits.max_album_photos)
        finally:
            body.release()
        try:
            fields = read_album_fields(form, limits)
            photos, report = await gate.run(scrub_album_upload, scrubber, limits, fields)
        finally:
            await form.close()
        return JSONResponse({"album": report, "photos": photos,
                             "no_face": [p["name"] for p in photos if p["status"] == "no_face"]})

    return app


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


def read_edit_fields(form: FormData) -> tuple[str, str, float]:
    """(attributes, mode, strength) of a scrub or album form."""
    attributes = str(form.get("attributes") or "").strip()
    if not attributes:
        raise ServiceError(400, "missing 'attributes' (comma-separated names)")
    try:
        strength = float(str(form.get("strength") or "1"))
    except ValueError:
        raise ServiceError(400, "'strength' must be a number between 0 and 1") from None
    return attributes, str(form.get("mode") or "invert"), strength


def read_fields(form: FormData, limits: ServiceLimits) -> dict[str, Any]:
    upload = form.get("photo")
    if isinstance(upload, str):  # a part without filename= is parsed as text: its bytes are lost
        raise ServiceError(400, "the 'photo' part is not a file (it has no filename); send the photo as a file")
    if not isinstance(upload, UploadFile):
        raise ServiceError(400, "missing the 'photo' file field")
    if (upload.size or 0) > limits.max_upload_bytes:
        raise too_large(limits.max_upload_bytes)
    attributes, mode, strength = read_edit_fields(form)
    response = str(form.get("response") or "json")
    if response not in ("json", "image"):
        raise ServiceError(400, "'response' must be 'json' or 'image'")
    target = None
    if str(form.get("target") or "").lower() in ("1", "true", "on", "yes"):  # strength chosen per face
        after = str(form.get("target_after") or "").strip() or None
        target = Target(after=after)
    return {"photo": upload.file, "attributes": attributes,
            "mode": mode, "strength": strength, "target": target,
            "faces": str(form.get("faces") or "").strip() or None, "response": response}


def album_available(scrubber: Scrubber) -> bool:
    """Albums group faces by face recognition: the scrubber's embedder or the identity extra."""
    from infoscrub.faces import identity

    return scrubber.identity is not None or identity.available()


def read_album_fields(form: FormData, limits: ServiceLimits) -> dict[str, Any]:
    uploads = form.getlist("photos")
    for number, part in enumerate(uploads, 1):
        if not isinstance(part, UploadFile):  # a part without filename= is parsed as text: its bytes are lost
            raise ServiceError(400, f"'photos' part {number} is not a file (it has no filename); "
                                    "send every photo as a file")
    if not uploads:
        raise ServiceError(400, "missing the 'photos' file fields (one per photo of the album)")
    if len(uploads) > limits.max_album_photos:
        raise ServiceError(413, f"an album takes at most {limits.max_album_photos} photos")
    for upload in uploads:
        if (upload.size or 0) > limits.max_upload_bytes:
            raise too_large(limits.max_upload_bytes)
    attributes, mode, strength = read_edit_fields(form)
    names = album_names([u.filename for u in uploads])
    return {"photos": [u.file for u in uploads], "names": names, "attributes": attributes,
            "mode": mode, "strength": strength}


def album_names(filenames: list[str | None]) -> list[str]:
    """A name per album photo, as the results call it: the upload's file name without any
    folder, "photo N" (counted from 1) when it has none, and " (2)", " (3)"... on repeats,
    so every photo of the result can be told apart."""
    names: list[str] = []
    for number, filename in enumerate(filenames, 1):
        name = Path((filename or "").replace("\\", "/")).name
        if name in ("", ".", ".."):
            name = f"photo {number}"
        base, copy = name, 1
        while name in names:
            copy += 1
            name = f"{base} ({copy})"
        names.append(name)
    return names


def decode_upload(file: Any, limits: ServiceLimits, name: str):
    """An uploaded photo decoded, or the HTTP error that says why it cannot be."""
    file.seek(0)
    try:
        return decode_photo(file.read(), max_pixels=limits.max_pixels, name=name)
    except PhotoTooLarge as exc:
        raise ServiceError(413, str(exc)) from None
    except NotAPhoto as exc:
        raise ServiceError(415, str(exc)) from None


NO_FACE = ("no face found: not scrubbed, so not returned; if the photo shows a face, the detector "
           "missed it and it is unchanged: do not share this photo as scrubbed")


def scrub_album_upload(scrubber: Scrubber, limits: ServiceLimits, fields: dict[str, Any]
                       ) -> tuple[list[dict[str, Any]], dict]:
    """The album in two passes (find the people, then scrub), each photo decoded when it is
    needed, so only one is decoded at a time; per photo, its result (``album_photo``)."""
    from infoscrub.album import AlbumScrub, PeopleFinder

    try:
        finder = PeopleFinder(scrubber)
    except InfoscrubError as exc:  # the identity extra is not installed on this server
        raise ServiceError(501, str(exc)) from None
    uploads = list(zip(fields["names"], fields["photos"]))
    try:
        found = [finder.add(name, decode_upload(file, limits, name)) for name, file in uploads]
        if not any(found):  # as /v1/scrub: nothing to return
            raise ServiceError(422, f"no face found in any of the {len(uploads)} photo(s)")
        job = AlbumScrub(scrubber, finder.album(), fields["attributes"], fields["mode"], fields["strength"])
        out = []
        for number, (name, file) in enumerate(uploads):
            if not found[number]:  # a faceless photo is named, never returned as if scrubbed
                out.append({"name": name, "status": "no_face", "message": NO_FACE,
                            "media_type": None, "image": None, "report": None})
                continue
            edited, report = job.scrub(number, decode_upload(file, limits, name))
            out.append(album_photo(name, edited, report))
    except InfoscrubError as exc:
        raise ServiceError(400, str(exc)) from None
    return out, json.loads(json.dumps(job.report()))


def album_photo(name: str, edited: Any, report: dict) -> dict[str, Any]:
    """One scrubbed photo of an album's result: the photo (base64) and its report."""
    edited_faces = sum(face["edited"] for face in report["faces"])
    status = "scrubbed" if edited_faces and report["strength"] else "unchanged"
    message = f"{report['faces_found']} face(s), {edited_faces} edited" + (
        "" if status == "scrubbed" else " (metadata stripped only)")
    return {"name": name, "status": status, "message": message, "media_type": edited.media_type,
            "image": base64.b64encode(encode_photo(edited)).decode("ascii"),
            "report": json.loads(json.dumps(report))}  # plain JSON types only


def scrub_upload(scrubber: Scrubber, limits: ServiceLimits, fields: dict[str, Any]
                 ) -> tuple[bytes, str, dict]:
    """Read, decode, scrub, encode; all state is local to this call. Runs inside the gate, so
    only ``workers`` uploads are in memory whole at once."""
    photo = decode_upload(fields["photo"], limits, "upload")
    try:
        edited, report = scrubber.scrub_photo(
            photo, fields["attributes"], mode=fields["mode"], strength=fields["strength"],
            faces=fields["faces"], target=fields["target"])
    except InfoscrubError as exc:
        raise ServiceError(400, str(exc)) from None
    if report["faces_found"] == 0:
        raise ServiceError(422, "no face found in the photo")
    report = json.loads(json.dumps(report))  # plain JSON types only
    return encode_photo(edited), edited.media_type, report
