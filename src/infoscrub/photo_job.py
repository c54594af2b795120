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
from infoscrub.targeting import Target


@dataclass(frozen=True)
class ScrubOptions:
    attributes: list[str]
    mode: str = "invert"
    strength: float = 1.0
    target: Target | None = None
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
        return "unchanged", f"{found} face(s), 0 edited (none chosen by --faces; metadata stripped only)"
    return "scrubbed", f"{found} face(s), {edited} edited"


def scrub_file(scrubber: Scrubber, source: Path, destination: Path, options: ScrubOptions,
               data: bytes | None = None) -> PhotoResult:
    """Scrub one photo file (``data``: its bytes, when already read) into ``destination``."""
    entry: dict[str, Any] = {"input": str(source), "output": None}
    result = PhotoResult(entry)
    try:
        if data is None:
            try:
                data = source.read_bytes()
            except OSError as exc:
                raise InfoscrubError(f"cannot read {source}: {exc.strerror or exc}") from None
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        photo = result.photo = decode_photo(data, max_pixels=options.max_pixels, name=str(source))
        check_destination_format(source, destination, photo.format)
        edited, report = scrubber.scrub_photo(photo, options.attributes, mode=options.mode,
                                              strength=options.strength, faces=options.faces,
                                              aligned=options.aligned, target=options.target)
        entry.update(report)
        if report["faces_found"] == 0 and not options.copy_faceless:
            entry["status"] = "no_face"
            entry["message"] = "no face found: nothing written (--copy-faceless copies it clean)"
            return result
        write_bytes_atomic(encode_photo(edited), destination, force=options.force)
        result.edited = edited
        entry["output"] = str(destination)
        entry["status"], entry["message"] = outcome(report)
    except Exception as exc:  # one photo's problem is its entry's, never the whole run's
        if not isinstance(exc, InfoscrubError):
            if os.environ.get("INFOSCRUB_DEBUG"):  # a bug: its traceback on request
                traceback.print_exc()
            exc = InfoscrubError(f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")
        entry["status"] = "error"
        entry["message"] = entry["error"] = str(exc)
        result.error = exc
    return result
