"""One photo file through the pipeline: read, scrub, write, and say what happened.

The one code path behind ``infoscrub scrub`` (a photo or a folder) and ``infoscrub bulk``
(a collection on Ray): read the bytes, decode them safely, check that the output name fits
the format, scrub every face, write a metadata-free file atomically, and return an entry
for the report. A problem with one photo (bad bytes, no face, a destination that cannot be
written, even a bug) becomes the entry's status, never an exception that stops the others.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoscrub.consistent_album import AlbumPhotos, AlbumScrub, scrub_album_in_two_passes
from infoscrub.edit_request import EditRequest
from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import (
    DEFAULT_MAX_PIXELS,
    FORMAT_BY_SUFFIX,
    Photo,
    decode_photo,
    encode_photo,
    write_bytes_atomic,
)
from infoscrub.scrubber import Scrubber
from infoscrub.storage.files import read_bytes


@dataclass(frozen=True)
class ScrubOptions:
    request: EditRequest  # what to change in the faces
    faces: str | None = None
    aligned: bool = False
    copy_faceless: bool = False  # a photo with no face is written (clean) rather than skipped
    force: bool = False  # replace an existing output
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class PhotoResult:
    entry: dict[str, Any]  # input, output, status, message, sha256, the Scrubber's report
    photo: Photo | None = None  # decoded input and scrubbed output (for previews)
    edited: Photo | None = None
    error: InfoscrubError | None = field(default=None, repr=False)  # when status is "error"


def check_destination_format(source: Path, destination: Path, photo_format: str) -> None:
    """A PNG written under a .jpg name would mislead every viewer: refuse it."""
    implied = FORMAT_BY_SUFFIX.get(destination.suffix.lower())
    if implied is not None and implied != photo_format:
        raise InfoscrubError(f"{source} is a {photo_format} image but the output name "
                             f"{destination} says {implied}; the output keeps the input's "
                             "format, so choose a matching name")


def outcome(report: dict) -> tuple[str, str]:
    """(status, message) of a written photo: status is one word for scripts reading the
    report (scrubbed | unchanged | copied), the message says it for people."""
    found = report["faces_found"]
    edited = sum(f["edited"] for f in report["faces"])
    if found == 0:
        return "copied", "no face: copied clean (metadata stripped)"
    if report.get("strength") == 0:
        return "unchanged", f"{found} face(s), 0 edited (strength 0: metadata stripped only)"
    if edited == 0:
        return "unchanged", f"{found} face(s), 0 edited (none chosen by --faces or the album's people; metadata stripped only)"
    return "scrubbed", f"{found} face(s), {edited} edited"


def scrub_file(scrubber: Scrubber, source: Path, destination: Path, options: ScrubOptions,
               data: bytes | None = None) -> PhotoResult:
    """Scrub one photo file (``data``: its bytes, when already read) into ``destination``."""
    result = PhotoResult({"input": str(source), "output": None})
    try:
        photo = read_photo(result, source, destination, options, data)
        edited, report = scrubber.scrub_request(photo, options.request, options.faces, options.aligned)
        write_photo(result, edited, report, destination, options)
    except Exception as exc:  # one photo's problem is its entry's, never the whole run's
        failed(result, exc)
    return result


def scrub_album_files(scrubber: Scrubber, pairs: list[tuple[Path, Path]], options: ScrubOptions,
                      threshold: float | None = None, people: list[int | str] | None = None
                      ) -> tuple[list[PhotoResult], dict[str, Any]]:
    """Scrub photo files as one album (``consistent_album.scrub_album_in_two_passes``): a
    first pass finds and groups the people, a second scrubs and writes each photo, so the
    album is never all in memory. A photo that cannot be read is its entry's error and has
    no faces in the album."""
    from infoscrub.faces.identity import THRESHOLD

    if options.request.target is not None or options.faces is not None or options.aligned:
        raise InfoscrubError("an album edits every person alike: --target, --faces and --aligned do not apply")
    files = AlbumFiles(pairs, options)
    job = scrub_album_in_two_passes(scrubber, files, options.request, people=people,
                                    threshold=THRESHOLD if threshold is None else threshold)
    return files.results, job.report()


class AlbumFiles(AlbumPhotos):
    """An album's photo files (``consistent_album.AlbumPhotos``): each read, then read again
    (the same bytes: checked by digest), scrubbed and written; a ``PhotoResult`` per file."""

    def __init__(self, pairs: list[tuple[Path, Path]], options: ScrubOptions):
        self.pairs, self.options = pairs, options
        self.names = [str(source) for source, _ in pairs]
        self.results = [PhotoResult({"input": str(source), "output": None}) for source, _ in pairs]

    def read(self, number: int) -> Photo | None:
        source, destination = self.pairs[number]
        try:
            return read_photo(self.results[number], source, destination, self.options)
        except Exception as exc:  # one photo's problem is its entry's; the album goes on
            failed(self.results[number], exc)
            return None

    def scrub(self, job: AlbumScrub, number: int) -> None:
        source, destination = self.pairs[number]
        digest = self.results[number].entry.get("sha256")
        self.results[number] = scrub_album_file(job, number, source, destination, self.options, digest=digest)


def scrub_album_file(job: AlbumScrub, number: int, source: Path, destination: Path, options: ScrubOptions,
                     data: bytes | None = None, digest: str | None = None) -> PhotoResult:
    """Scrub photo ``number`` of an album (``infoscrub.consistent_album.AlbumScrub``) into ``destination``;
    ``digest``: the SHA-256 its bytes had when the album was read (a photo that changed since
    would get another person's edit: refused)."""
    result = PhotoResult({"input": str(source), "output": None})
    try:
        photo = read_photo(result, source, destination, options, data)
        if digest is not None and result.entry["sha256"] != digest:
            raise InfoscrubError(f"{source} changed while the album was being scrubbed")
        edited, report = job.scrub(number, photo)
        write_photo(result, edited, report, destination, options)
    except Exception as exc:  # one photo's problem is its entry's
        failed(result, exc)
    return result


def load_photo(source: Path, max_pixels: int, data: bytes | None = None) -> tuple[str, Photo]:
    """(SHA-256 of the bytes, decoded photo) of a photo file (``data``: its bytes, when read)."""
    data = read_bytes(Path(source)) if data is None else data
    return hashlib.sha256(data).hexdigest(), decode_photo(data, max_pixels=max_pixels, name=str(source))


def read_photo(result: PhotoResult, source: Path, destination: Path, options: ScrubOptions,
               data: bytes | None = None) -> Photo:
    """Read and decode a photo, its digest into the entry; refuse a misleading output name."""
    result.entry["sha256"], photo = load_photo(source, options.max_pixels, data)
    result.photo = photo
    check_destination_format(source, destination, photo.format)
    return photo


def write_photo(result: PhotoResult, edited: Photo, report: dict, destination: Path, options: ScrubOptions) -> None:
    """Write the scrubbed photo (not a faceless one unless asked) and say what happened."""
    entry = result.entry
    entry.update(report)
    if report["faces_found"] == 0 and not options.copy_faceless:
        entry["status"] = "no_face"
        entry["message"] = "no face found: nothing written (--copy-faceless copies it clean)"
        return
    write_bytes_atomic(encode_photo(edited), destination, force=options.force)
    result.edited = edited
    entry["output"] = str(destination)
    entry["status"], entry["message"] = outcome(report)


def as_error(exc: Exception) -> InfoscrubError:
    """Any problem with one photo as a one-line error (a bug as an internal error, its
    traceback on request)."""
    if isinstance(exc, InfoscrubError):
        return exc
    if os.environ.get("INFOSCRUB_DEBUG"):
        traceback.print_exc()
    return InfoscrubError(f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")


def failed(result: PhotoResult, exc: Exception) -> None:
    """A photo's problem as its entry's status."""
    exc = as_error(exc)
    result.entry["status"] = "error"
    result.entry["message"] = result.entry["error"] = str(exc)
    result.error = exc
