"""The HTTP API over real HTTP against uvicorn on 127.0.0.1."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from conftest_faces import ATTRIBUTES, astronaut, encode, two_faces
from PIL import Image


def post(url: str, data: bytes | None, filename: str = "photo.jpg", **fields) -> httpx.Response:
    # data None: a multipart form whose file is under another name
    files = {"photo" if data is not None else "document":
             (filename, data if data is not None else b"hello", "application/octet-stream")}
    fields.setdefault("attributes", "Male")
    return httpx.post(f"{url}/v1/scrub", files=files, data=fields, timeout=60)


def test_health_and_attributes(server_url: str) -> None:
    assert httpx.get(f"{server_url}/healthz").json() == {"status": "ok"}
    info = httpx.get(f"{server_url}/v1/attributes").json()
    assert info["attributes"] == ATTRIBUTES and info["modes"] == ["invert", "obfuscate"]
    assert info["attacker"] is True


def test_page_and_static_files_are_served(server_url: str) -> None:
    page = httpx.get(f"{server_url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text
    assert httpx.get(f"{server_url}/static/app.js").status_code == 200


def test_the_page_names_its_attacker_and_serves_the_audit(server_url: str) -> None:
    assert "trained on unedited faces" in httpx.get(f"{server_url}/").text
    assert 'href="/privacy"' in httpx.get(f"{server_url}/").text
    audit = httpx.get(f"{server_url}/privacy")
    assert audit.status_code == 200 and audit.headers["content-type"].startswith("text/plain")
    assert audit.text.startswith("# Privacy audit") and "## The four attackers" in audit.text


def test_scrub_returns_clean_photo_and_report(server_url: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    upload = encode(two_faces(), "JPEG", quality=95, exif=exif.tobytes())
    # the name and declared type lie: content decides
    reply = post(server_url, upload, filename="../../etc/passwd.png",
                 attributes="Male,Young", mode="obfuscate", strength="0.7")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["media_type"] == "image/jpeg"
    image = base64.b64decode(body["image"])
    assert b"Exif" not in image and b"SpyCam" not in image and b"GPS" not in image
    assert Image.open(io.BytesIO(image)).size == (1024, 512)
    report = body["report"]
    assert report["faces_found"] == 2 and report["mode"] == "obfuscate"
    assert report["strength"] == 0.7
    assert set(report["faces"][1]["attacker"]) == set(ATTRIBUTES)


def test_raw_image_response(server_url: str) -> None:
    reply = post(server_url, encode(astronaut(), "PNG"), response="image")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert reply.headers["x-infoscrub-faces"] == "1"
    assert Image.open(io.BytesIO(reply.content)).size == (512, 512)


@pytest.mark.parametrize("data, fields, status, message", [
    (b"GIF89a but really just text" * 10, {}, 415, "not an image"),
    (b"", {}, 415, "empty"),
    (None, {}, 400, "photo"),
    ("photo", {"attributes": "Wizard"}, 400, "unknown attribute"),
    ("photo", {"attributes": ""}, 400, "attributes"),
    ("photo", {"mode": "blur"}, 400, "unknown mode"),
    ("photo", {"strength": "lots"}, 400, "strength"),
    ("photo", {"faces": "7"}, 400, "face 7"),
    ("blank", {}, 422, "no face"),
    ("huge", {}, 413, "too many pixels"),
])
def test_refusals_are_clear_json(server_url, data, fields, status, message) -> None:
    if data == "photo":
        data = encode(astronaut(), "JPEG")
    elif data == "blank":
        data = encode(np.full((100, 100, 3), 80, np.uint8), "PNG")
    elif data == "huge":  # 2500 x 2000 = 5 MP of flat colour: small file, over the 4 MP limit
        data = encode(np.zeros((2000, 2500, 3), np.uint8), "PNG")
    reply = post(server_url, data, **fields)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"] and "\n" not in reply.json()["error"]


def test_upload_size_limit(server_url: str) -> None:
    reply = post(server_url, b"\xff\xd8" + bytes(3 * 2**20))
    assert reply.status_code == 413 and "limit" in reply.json()["error"]


def test_not_multipart_is_refused(server_url: str) -> None:
    reply = httpx.post(f"{server_url}/v1/scrub", content=b"{}",
                       headers={"content-type": "application/json"})
    assert reply.status_code == 415 and "multipart" in reply.json()["error"]


def test_concurrent_requests_do_not_mix(server_url: str) -> None:
    """Different photos at once: each answer must be its own photo's size and face count."""
    cases = [(astronaut(), 1), (two_faces(), 2), (astronaut(scale=0.75), 1), (two_faces(), 2)]

    def one(case):
        image, faces = case
        reply = post(server_url, encode(image, "PNG"))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        out = Image.open(io.BytesIO(base64.b64decode(body["image"])))
        return out.size, body["report"]["faces_found"], (image.shape[1], image.shape[0]), faces

    with ThreadPoolExecutor(4) as pool:
        for size, found, expected_size, expected_faces in pool.map(one, cases * 2):
            assert size == expected_size and found == expected_faces


def test_a_16_bit_grayscale_tiff_is_scrubbed_not_a_500(server_url: str) -> None:
    gray = (astronaut().astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * 257
    buffer = io.BytesIO()
    Image.fromarray(gray.astype(np.uint16)).save(buffer, format="TIFF")
    reply = post(server_url, buffer.getvalue(), response="image")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/tiff"
    assert Image.open(io.BytesIO(reply.content)).mode == "I;16"
