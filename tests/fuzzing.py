"""A seeded mutation fuzzer for everything that reads untrusted bytes (shared by
tests/test_fuzz.py, a few hundred cases in CI, and benchmarks/fuzz.py, many thousands).

Seeds are real files of every supported format: JPEG baseline and progressive, PNG 8-bit
and 16-bit with alpha, GIF, WebP, TIFF (8- and 16-bit), BMP, and JPEGs carrying EXIF
orientations 1 to 8 plus GPS, XMP and comments. Mutations flip and overwrite bytes,
delete, duplicate and insert runs, truncate, and edit structure on purpose: PNG chunk
lengths and IHDR dimensions (with the CRC fixed, so the decoder gets past it), JPEG
segment lengths and frame dimensions, EXIF orientation values and IFD counts.

Every target states the property: either a clean result or one of the project's own
errors in one line; never another exception, never a partial or overwritten file, and a
bounded time per input. ``run_case`` returns None on success or a description of the
failure.
"""

from __future__ import annotations

import io
import random
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from infoscrub.errors import InfoscrubError

MAX_SECONDS = 5.0  # per input, any target
MAX_PIXELS = 4_000_000  # fuzzed photos larger than this must be refused, not decoded
METADATA_NEEDLES = (b"Exif\0\0", b"http://ns.adobe.com/xap", b"SpyCam", b"secret", b"GPSInfo",
                    b"tEXt", b"iTXt", b"zTXt", b"eXIf")


# ----------------------------------------------------------------------------- seeds


def _pattern(width: int = 48, height: int = 40) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 5) % 256, (y * 7) % 256, ((x + y) * 3) % 256], axis=2).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    return exif.tobytes()


def seed_files() -> dict[str, bytes]:
    """name -> bytes of a small, valid photo."""
    rgb = Image.fromarray(_pattern(), "RGB")
    rgba = Image.fromarray(np.concatenate([_pattern(), _pattern()[..., :1]], axis=2), "RGBA")
    deep = (_pattern().astype(np.uint16) * 257)
    import cv2

    seeds = {
        "baseline.jpg": _save(rgb, "JPEG", quality=90, comment=b"secret comment"),
        "progressive.jpg": _save(rgb, "JPEG", quality=90, progressive=True),
        "rgba.png": _save(rgba, "PNG"),
        "png16_alpha.png": cv2.imencode(".png", np.concatenate(
            [deep, deep[..., :1]], axis=2))[1].tobytes(),
        "palette.gif": _save(rgb.convert("P"), "GIF", comment=b"secret"),
        "lossy.webp": _save(rgb, "WEBP", quality=80, exif=_exif(1)),
        "alpha.webp": _save(rgba, "WEBP", lossless=True),
        "plain.tif": _save(rgb, "TIFF"),
        "deep.tif": _save(Image.fromarray(deep[..., 0]), "TIFF"),
        "plain.bmp": _save(rgb, "BMP"),
    }
    for orientation in range(1, 9):
        seeds[f"orient{orientation}.jpg"] = _save(rgb, "JPEG", quality=85, exif=_exif(orientation))
    return seeds


def face_seeds() -> dict[str, bytes]:
    """Photos with a face (skimage's public-domain astronaut), so that mutants reach
    detection, alignment, the model and the paste-back."""
    from conftest_faces import astronaut

    face = Image.fromarray(np.ascontiguousarray(astronaut(0.4)), "RGB")
    return {"face.jpg": _save(face, "JPEG", quality=90, exif=_exif(6)), "face.png": _save(face, "PNG"),
            "face.webp": _save(face, "WEBP", quality=85)}


# ----------------------------------------------------------------------------- mutations


def _fix_png_crcs(data: bytearray) -> None:
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        end = pos + 12 + length
        if end > len(data):
            return
        crc = zlib.crc32(bytes(data[pos + 4:pos + 8 + length])) & 0xFFFFFFFF
        data[pos + 8 + length:end] = struct.pack(">I", crc)
        pos = end


def _png_structure(data: bytearray, rng: random.Random) -> None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 33:
        return
    choice = rng.randrange(3)
    if choice == 0:  # IHDR width/height: zero, small, huge
        field = 16 + 4 * rng.randrange(2)
        data[field:field + 4] = struct.pack(">I", rng.choice([0, 1, 7, 65535, 2**31 - 1, 100_000]))
    elif choice == 1:  # bit depth / colour type / interlace
        data[24 + rng.randrange(5)] = rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 255])
    else:  # a chunk length
        data[8:12] = struct.pack(">I", rng.choice([0, 12, 13, 14, 2**31]))
    _fix_png_crcs(data)


def _jpeg_structure(data: bytearray, rng: random.Random) -> None:
    if data[:2] != b"\xff\xd8":
        return
    markers = [i for i in range(2, len(data) - 4) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xFE]
    if not markers:
        return
    i = rng.choice(markers)
    if data[i + 1] in (0xC0, 0xC2) and i + 9 < len(data) and rng.random() < 0.6:
        field = i + 5 + 2 * rng.randrange(2)  # frame height / width
        data[field:field + 2] = struct.pack(">H", rng.choice([0, 1, 8, 0xFFFF]))
    else:
        data[i + 2:i + 4] = struct.pack(">H", rng.choice([0, 1, 2, 3, 0x7FFF, 0xFFFF]))


def _exif_structure(data: bytearray, rng: random.Random) -> None:
    at = data.find(b"Exif\0\0")
    if at < 0:
        return
    tiff = at + 6
    orientation = data.find(b"\x01\x12\x00\x03", tiff)  # big-endian tag 0x0112, SHORT
    little = data.find(b"\x12\x01\x03\x00", tiff)
    spot = orientation if orientation >= 0 else little
    if spot >= 0 and rng.random() < 0.5:
        value = rng.choice([0, 9, 255, 65535, rng.randrange(65536)])
        packed = struct.pack(">H" if orientation >= 0 else "<H", value)
        data[spot + 8:spot + 10] = packed
    elif tiff + 10 < len(data):  # the IFD entry count or the first IFD offset
        field = tiff + rng.choice([4, 8])
        data[field:field + 2] = struct.pack(">H", rng.choice([0, 1, 0x7FFF, 0xFFFF]))


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random mutations of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        kind = rng.randrange(9)
        pos = rng.randrange(len(out))
        if kind == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[pos] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x01])
        elif kind == 2:
            del out[pos:pos + rng.randint(1, 64)]
        elif kind == 3:
            run = out[pos:pos + rng.randint(1, 64)]
            out[pos:pos] = run * rng.randint(1, 8)
        elif kind == 4:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif kind == 5:
            del out[rng.randrange(1, len(out) + 1):]
        elif kind == 6:
            _png_structure(out, rng)
        elif kind == 7:
            _jpeg_structure(out, rng)
        else:
            _exif_structure(out, rng)
    return bytes(out)


# ----------------------------------------------------------------------------- targets


@dataclass
class Case:
    target: str
    seed_name: str
    data: bytes


def _one_line_error(exc: BaseException) -> str | None:
    if isinstance(exc, InfoscrubError):
        return None if "\n" not in str(exc) and str(exc) else f"error message not one line: {str(exc)!r:.200}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _clean(out: bytes) -> str | None:
    for needle in METADATA_NEEDLES:
        if needle in out:
            return f"output still carries {needle!r}"
    return None


def photo_target(data: bytes) -> str | None:
    """decode -> encode -> decode again; the output carries no metadata; written atomically."""
    from infoscrub.photo_io import decode_photo, encode_photo, write_bytes_atomic

    try:
        photo = decode_photo(data, max_pixels=MAX_PIXELS, name="fuzz")
    except Exception as exc:  # noqa: BLE001 - classifying every exception is the point
        return _one_line_error(exc)
    try:
        out = encode_photo(photo)
        decode_photo(out, max_pixels=MAX_PIXELS, name="fuzz output")
    except Exception as exc:  # noqa: BLE001
        return f"a decoded photo did not survive encoding: {type(exc).__name__}: {exc}"[:300]
    problem = _clean(out)
    if problem:
        return problem
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.bin"
        target.write_bytes(b"precious")
        try:
            write_bytes_atomic(out, target)  # must refuse: it exists
            return "an existing file was replaced without force"
        except InfoscrubError:
            pass
        if target.read_bytes() != b"precious" or len(list(Path(folder).iterdir())) != 1:
            return "a refused write left the folder changed"
    return None


class ScrubTarget:
    """The scrub path on decodable mutants, with the given (small) scrubber."""

    def __init__(self, scrubber) -> None:
        self.scrubber = scrubber
        self.faces_reached = 0  # mutants in which a face was found and edited

    def __call__(self, data: bytes) -> str | None:
        from infoscrub.photo_io import decode_photo, encode_photo

        try:
            photo = decode_photo(data, max_pixels=MAX_PIXELS, name="fuzz")
        except InfoscrubError:
            return None  # the photo target covers refusals
        except Exception as exc:  # noqa: BLE001
            return _one_line_error(exc)
        try:
            edited, report = self.scrubber.scrub_photo(photo, [self.scrubber.attributes[0]])
            out = encode_photo(edited)
        except Exception as exc:  # noqa: BLE001
            return _one_line_error(exc)
        if edited.rgb.shape != photo.rgb.shape:
            return "the scrubbed photo changed shape"
        self.faces_reached += report["faces_found"] > 0
        return _clean(out)


class WeightsTarget:
    """Mutated weights files: a usable model or a one-line refusal."""

    def __init__(self, load: Callable[[Path], object], suffix: str) -> None:
        self.load, self.suffix = load, suffix

    def __call__(self, data: bytes) -> str | None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"weights{self.suffix}"
            path.write_bytes(data)
            try:
                model = self.load(path)
            except Exception as exc:  # noqa: BLE001
                return _one_line_error(exc)
            return _check_model(model)


def _check_model(model) -> str | None:
    import torch

    if not hasattr(model, "edit"):
        return None
    faces = torch.zeros(1, 3, model.image_size, model.image_size)
    try:
        out = model.edit(faces, [model.attributes[0]])
    except Exception as exc:  # noqa: BLE001
        return f"a loaded model failed to edit: {_one_line_error(exc)}"
    if not bool(torch.isfinite(out).all()):
        return "a loaded model produced non-finite pixels"
    return None


def service_client(app):
    """A test client for the service that gets past its Host check (a TestClient's default
    host, "testserver", is refused before any upload is read)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://localhost")


def _json_refusal(response) -> str | None:
    """None when a non-200 answer is a proper refusal: a JSON {"error": ...}, no 5xx but
    503, and not the Host check (the request must reach the route)."""
    if response.status_code >= 500 and response.status_code != 503:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} without a JSON body"
    if not isinstance(body, dict) or "error" not in body:
        return f"HTTP {response.status_code} body without an error: {str(body)[:200]}"
    if body["error"] == "unknown Host header":
        return "refused by the Host check: the fuzz case never reached the service (use service_client)"
    return None


class ServiceTarget:
    """POST /v1/scrub with mutated photos (and sometimes a mangled form): a JSON answer,
    never a 500."""

    def __init__(self, client) -> None:
        self.client = client

    def __call__(self, data: bytes, rng: random.Random | None = None) -> str | None:
        rng = rng or random.Random(len(data))
        fields = {"attributes": rng.choice(["Male", "Male,Young", "", "Wizard", "male"]),
                  "mode": rng.choice(["invert", "obfuscate", "bogus"])}
        files = {"photo": (rng.choice(["a.jpg", "", "../../etc/passwd", "x" * 300]), data,
                           rng.choice(["image/jpeg", "text/plain", "application/octet-stream"]))}
        try:
            response = self.client.post("/v1/scrub", data=fields, files=files)
        except Exception as exc:  # noqa: BLE001
            return f"the service raised {type(exc).__name__}: {exc}"[:300]
        return None if response.status_code == 200 else _json_refusal(response)


# Upload names a client may send: hostile markup, paths, repeats; AlbumTarget also sends ""
# now and then (httpx then leaves out filename=, so the part arrives as text).
ALBUM_NAMES = ["a.jpg", "a.jpg", "../../etc/passwd", "C:\\photos\\b.jpg", "x" * 300, "<!--<script>.jpg",
               "</script><img src=x onerror=alert(1)>", "caf\u00e9 \u2028.png", "."]


class AlbumTarget:
    """POST /v1/album with 1-3 photos (the mutant, plus unmutated ``extras``: photos with a
    face, so that albums reach the scrub path) under names from ALBUM_NAMES. Properties: a
    part without a filename is refused (400), never dropped; a 200 answers every photo
    sent, in order, under distinct names, with no image for a photo with no face (status
    no_face, named in "no_face") and a clean photo for every other; anything else is a JSON
    refusal, never a 500."""

    def __init__(self, client, extras: list[bytes]) -> None:
        self.client, self.extras = client, extras
        self.albums_scrubbed = 0  # 200 answers: the cases that reached the whole pipeline
        self.faceless_named = 0  # of those, albums with a photo answered as no_face

    def __call__(self, data: bytes, rng: random.Random | None = None) -> str | None:
        rng = rng or random.Random(len(data))
        photos = [data] + [rng.choice(self.extras) for _ in range(rng.randrange(3))]
        rng.shuffle(photos)
        names = [rng.choice(ALBUM_NAMES) for _ in photos]
        if rng.random() < 0.15:  # now and then a part with no filename at all
            names[rng.randrange(len(names))] = ""
        files = [("photos", (name, photo, "application/octet-stream")) for name, photo in zip(names, photos)]
        fields = {"attributes": rng.choice(["Male", "Male,Young", "Male", "Wizard"]),
                  "mode": rng.choice(["invert", "obfuscate"])}
        try:
            response = self.client.post("/v1/album", data=fields, files=files)
        except Exception as exc:  # noqa: BLE001
            return f"the service raised {type(exc).__name__}: {exc}"[:300]
        if "" in names:
            if response.status_code != 400 or "as a file" not in response.text:
                return f"a part without filename got HTTP {response.status_code}: {response.text[:200]}"
            return None
        if response.status_code != 200:
            return _json_refusal(response)
        self.albums_scrubbed += 1
        result = response.json()
        self.faceless_named += bool(result.get("no_face"))
        return _album_problem(result, len(photos))


def _album_problem(result: dict, sent: int) -> str | None:
    """What is wrong with a 200 answer of /v1/album to ``sent`` photos, or None."""
    import base64

    answered = result["photos"]
    if len(answered) != sent:
        return f"{sent} photos sent, {len(answered)} answered"
    if len({p["name"] for p in answered}) != sent:
        return f"two photos share a name: {[p['name'] for p in answered]}"
    if result["no_face"] != [p["name"] for p in answered if p["status"] == "no_face"]:
        return "no_face does not list the photos with no face"
    for photo in answered:
        if photo["status"] == "no_face":
            if photo["image"] is not None:
                return "a photo with no face was returned as if scrubbed"
            continue
        problem = _clean(base64.b64decode(photo["image"]))
        if problem:
            return problem
    return None


def run_case(target: Callable[[bytes], str | None], data: bytes) -> str | None:
    start = time.perf_counter()
    problem = target(data)
    seconds = time.perf_counter() - start
    if problem is None and seconds > MAX_SECONDS:
        problem = f"took {seconds:.1f} s (limit {MAX_SECONDS} s)"
    return problem


def cases(seeds: dict[str, bytes], count: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` mutants, cycling through the seed files, reproducible from ``seed``."""
    rng = random.Random(seed)
    names = sorted(seeds)
    return [(names[i % len(names)], mutate(seeds[names[i % len(names)]], rng)) for i in range(count)]
