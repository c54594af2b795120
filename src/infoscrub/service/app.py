"""The web service: ``POST /v1/scrub``, ``GET /v1/attributes``, ``GET /healthz`` and a small
page at ``/`` for people.

Guards: the request body is counted while it arrives and cut off at the upload limit; the
photo is recognised by its content (never its name or declared type) and refused above the
pixel limit before decoding; nothing a client sends is used as a path; a bounded number of
requests run at once (the ``Scrubber`` is thread-safe) with a bounded number waiting; every
refusal is a 4xx JSON body ``{"error": "..."}``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import NotAPhoto, PhotoTooLarge, decode_photo, encode_photo
from infoscrub.scrubber import MODES, Scrubber


@dataclass(frozen=True)
class ServiceLimits:
    max_upload_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    workers: int = 2  # requests in the pipeline at once (one per core on the 2-core target)
    max_waiting: int = 8  # requests queued behind those; more get 503
    wait_timeout_s: float = 120.0


class ServiceError(Exception):
    """A refusal with its HTTP status; becomes ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def static_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "service" / "static"))


class Gate:
    """At most ``workers`` requests in the pipeline and ``max_waiting`` queued; the rest are
    told the service is busy instead of piling up decoded photos in memory."""

    def __init__(self, limits: ServiceLimits):
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_waiting + limits.workers)
        self._work = threading.BoundedSemaphore(limits.workers)

    def run(self, fn, *args):
        if not self._slots.acquire(blocking=False):
            raise ServiceError(503, "the service is busy; try again in a moment")
        try:
            if not self._work.acquire(timeout=self.limits.wait_timeout_s):
                raise ServiceError(503, "the service is busy; try again in a moment")
            try:
                return fn(*args)
            finally:
                self._work.release()
        finally:
            self._slots.release()


def create_app(scrubber: Scrubber, limits: ServiceLimits | None = None) -> FastAPI:
    limits = limits or ServiceLimits()
    gate = Gate(limits)
    app = FastAPI(title="infoscrub", version="1", docs_url="/docs", redoc_url=None)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(static_dir() / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/attributes")
    async def attributes() -> dict:
        return {"attributes": scrubber.attributes, "modes": list(MODES),
                "alignment": scrubber.editor.alignment,
                "image_size": int(scrubber.editor.image_size),
                "attacker": scrubber.attacker is not None,
                "limits": asdict(limits)}

    @app.post("/v1/scrub")
    async def scrub(request: Request) -> Response:
        fields = await read_form(request, limits)
        result = await run_in_threadpool(gate.run, scrub_upload, scrubber, limits, fields)
        data, media_type, report = result
        if fields["response"] == "image":
            return Response(data, media_type=media_type,
                            headers={"X-Infoscrub-Faces": str(report["faces_found"])})
        return JSONResponse({"report": report, "media_type": media_type,
                             "image": base64.b64encode(data).decode("ascii")})

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as it passes ``limit`` (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ServiceError(413, f"upload is over the limit of {limit // 2**20} MB")
        except ValueError:
            raise ServiceError(400, "bad Content-Length header") from None
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ServiceError(413, f"upload is over the limit of {limit // 2**20} MB")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, limits: ServiceLimits) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ServiceError(415, "send the photo as multipart/form-data with a 'photo' field")
    # Starlette parses the form from the cached body, so the limit above holds for it too.
    request._body = await read_body(request, limits.max_upload_bytes + 64 * 1024)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except Exception as exc:  # malformed multipart: the parser's own exception types vary
        raise ServiceError(400, f"malformed form data: {' '.join(str(exc).split())}") from None
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        raise ServiceError(400, "missing the 'photo' file field")
    data = await upload.read()
    if len(data) > limits.max_upload_bytes:
        raise ServiceError(413, f"upload is over the limit of "
                                f"{limits.max_upload_bytes // 2**20} MB")
    attributes = str(form.get("attributes") or "").strip()
    if not attributes:
        raise ServiceError(400, "missing 'attributes' (comma-separated names)")
    try:
        strength = float(str(form.get("strength") or "1"))
    except ValueError:
        raise ServiceError(400, "'strength' must be a number between 0 and 1") from None
    response = str(form.get("response") or "json")
    if response not in ("json", "image"):
        raise ServiceError(400, "'response' must be 'json' or 'image'")
    return {"data": data, "attributes": attributes, "mode": str(form.get("mode") or "invert"),
            "strength": strength, "faces": str(form.get("faces") or "").strip() or None,
            "response": response}


def scrub_upload(scrubber: Scrubber, limits: ServiceLimits, fields: dict[str, Any]
                 ) -> tuple[bytes, str, dict]:
    """Decode, scrub, encode; all state is local to this call."""
    try:
        photo = decode_photo(fields["data"], max_pixels=limits.max_pixels, name="upload")
    except PhotoTooLarge as exc:
        raise ServiceError(413, str(exc)) from None
    except NotAPhoto as exc:
        raise ServiceError(415, str(exc)) from None
    try:
        edited, report = scrubber.scrub_photo(
            photo, fields["attributes"], mode=fields["mode"], strength=fields["strength"],
            faces=fields["faces"])
    except InfoscrubError as exc:
        raise ServiceError(400, str(exc)) from None
    if report["faces_found"] == 0:
        raise ServiceError(422, "no face found in the photo")
    report = json.loads(json.dumps(report))  # plain JSON types only
    return encode_photo(edited), edited.media_type, report
