"""The web service's routes: ``POST /v1/scrub``, ``POST /v1/album``, ``GET /v1/attributes``,
``GET /healthz`` and a small page at ``/`` for people.

Guards (``service.guards``): only known Host names are served (no DNS rebinding); the
request headers must arrive within ``header_timeout_s`` (``service.connections``, in the
server's protocol); the request body is spooled while it arrives, cut off at the upload
limit and dropped with a 408 when the client stalls; a bounded number of requests run at
once (the ``Scrubber`` is thread-safe) with a bounded number waiting; every refusal is a
4xx JSON body ``{"error": "..."}`` and any unexpected failure a logged JSON 500 without
details. Here: the photo is recognised by its content (never its name or declared type)
and refused above the pixel limit before decoding; nothing a client sends is used as a path.

A photo with no face is never returned as if it were scrubbed: ``/v1/scrub`` answers 422,
and ``/v1/album`` names it with status ``no_face`` and no image (422 when no photo of the
album has a face), saying that a face the detector missed was not scrubbed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData, UploadFile

from infoscrub.consistent_album import Album, AlbumPhotos, AlbumScrub, grouping_embedder, scrub_album_in_two_passes
from infoscrub.edit_request import MODES, EditRequest, Target
from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import NotAPhoto, Photo, PhotoTooLarge, decode_photo, encode_photo
from infoscrub.privacy_report import audit_text, report_assets_dir
from infoscrub.scrubber import Scrubber
from infoscrub.service.guards import (
    LOOPBACK_HOSTS,
    CatchAll,
    Gate,
    HostCheck,
    MemoryBudget,
    ServiceError,
    ServiceLimits,
    host_name,
    parse_form,
    receive_body,
    too_large,
)

# The page loads only its own files; the photos it shows are blob: and data: URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def static_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "service" / "static"))


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

    @app.get("/privacy", include_in_schema=False)
    async def privacy_audit() -> PlainTextResponse:
        """The privacy audit (docs/privacy.md): which attacker the page's beliefs come from
        and what the others read."""
        return PlainTextResponse(audit_text(), media_type="text/plain; charset=utf-8")

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


def read_edit_request(form: FormData, target: Target | None = None) -> EditRequest:
    """The edit a scrub or album form asks for (the scrubber checks it)."""
    attributes = str(form.get("attributes") or "").strip()
    if not attributes:
        raise ServiceError(400, "missing 'attributes' (comma-separated names)")
    try:
        strength = float(str(form.get("strength") or "1"))
    except ValueError:
        raise ServiceError(400, "'strength' must be a number between 0 and 1") from None
    return EditRequest(attributes, str(form.get("mode") or "invert"), strength, target)


def read_fields(form: FormData, limits: ServiceLimits) -> dict[str, Any]:
    upload = form.get("photo")
    if isinstance(upload, str):  # a part without filename= is parsed as text: its bytes are lost
        raise ServiceError(400, "the 'photo' part is not a file (it has no filename); send the photo as a file")
    if not isinstance(upload, UploadFile):
        raise ServiceError(400, "missing the 'photo' file field")
    if (upload.size or 0) > limits.max_upload_bytes:
        raise too_large(limits.max_upload_bytes)
    target = None
    if str(form.get("target") or "").lower() in ("1", "true", "on", "yes"):  # strength chosen per face
        target = Target(after=str(form.get("target_after") or "").strip() or None)
    request = read_edit_request(form, target)
    response = str(form.get("response") or "json")
    if response not in ("json", "image"):
        raise ServiceError(400, "'response' must be 'json' or 'image'")
    return {"photo": upload.file, "request": request,
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
    request = read_edit_request(form)
    names = album_names([u.filename for u in uploads])
    return {"photos": [u.file for u in uploads], "names": names, "request": request}


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
    """The album in two passes (``consistent_album.scrub_album_in_two_passes``), each photo
    decoded when it is needed, so only one is decoded at a time; per photo, its result
    (``album_photo``), and the album's report."""
    try:
        grouping_embedder(scrubber)
    except InfoscrubError as exc:  # the identity extra is not installed on this server
        raise ServiceError(501, str(exc)) from None
    uploads = AlbumUploads(fields["names"], fields["photos"], limits)
    try:
        job = scrub_album_in_two_passes(scrubber, uploads, fields["request"])
    except InfoscrubError as exc:
        raise ServiceError(400, str(exc)) from None
    return uploads.results, json.loads(json.dumps(job.report()))


class AlbumUploads(AlbumPhotos):
    """An album upload's photos (``consistent_album.AlbumPhotos``): decoded for the people,
    decoded again to scrub; an unreadable photo refuses the album (``decode_upload``)."""

    def __init__(self, names: list[str], files: list[Any], limits: ServiceLimits):
        self.names, self.files, self.limits = names, files, limits
        self.results: list[dict[str, Any]] = []

    def read(self, number: int) -> Photo:
        return decode_upload(self.files[number], self.limits, self.names[number])

    def check(self, album: Album) -> None:
        if not album.faces:  # as /v1/scrub: nothing to return
            raise ServiceError(422, f"no face found in any of the {len(self.names)} photo(s)")

    def scrub(self, job: AlbumScrub, number: int) -> None:
        name = self.names[number]
        if not job.album.faces_in(number):  # a faceless photo is named, never returned as if scrubbed
            self.results.append({"name": name, "status": "no_face", "message": NO_FACE,
                                 "media_type": None, "image": None, "report": None})
            return
        edited, report = job.scrub(number, self.read(number))
        self.results.append(album_photo(name, edited, report))


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
    request = fields["request"]
    try:
        edited, report = scrubber.scrub_request(photo, request, fields["faces"])
    except InfoscrubError as exc:
        raise ServiceError(400, str(exc)) from None
    if report["faces_found"] == 0:
        raise ServiceError(422, "no face found in the photo")
    report = json.loads(json.dumps(report))  # plain JSON types only
    return encode_photo(edited), edited.media_type, report
