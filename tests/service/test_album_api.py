"""POST /v1/album: several photos, one edit per person, over real HTTP."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from conftest_faces import astronaut, encode, tinted_astronaut, two_faces
from PIL import Image


def post_album(url: str, photos: list[tuple[str, bytes]], **fields) -> httpx.Response:
    fields.setdefault("attributes", "Male")
    files = [("photos", (name, data, "application/octet-stream")) for name, data in photos]
    return httpx.post(f"{url}/v1/album", files=files, data=fields, timeout=60)


def album_photos() -> list[tuple[str, bytes]]:
    return [("a.jpg", encode(astronaut(), "JPEG")), ("b.png", encode(two_faces(), "PNG")),
            ("c.jpg", encode(tinted_astronaut(), "JPEG"))]


def test_an_album_comes_back_scrubbed_with_its_people(album_server_url: str) -> None:
    assert httpx.get(f"{album_server_url}/v1/attributes").json()["album"] is True
    reply = post_album(album_server_url, album_photos(), attributes="Male,Young", mode="obfuscate")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    people = body["album"]["people"]
    assert [p["faces"] for p in people] == [3, 1] and people[0]["photos"] == ["a.jpg", "b.png"]
    assert body["album"]["mode"] == "obfuscate" and set(people[0]["outcome"]) == {"Male", "Young"}
    assert [p["name"] for p in body["photos"]] == ["a.jpg", "b.png", "c.jpg"]
    sizes = [Image.open(io.BytesIO(base64.b64decode(p["image"]))).size for p in body["photos"]]
    assert sizes == [(512, 512), (1024, 512), (512, 512)]
    assert [f["person"] for f in body["photos"][1]["report"]["faces"]] == [0, 0]


@pytest.mark.parametrize("photos, fields, status, message", [
    (album_photos() + [("d.jpg", encode(astronaut(), "JPEG"))], {}, 413, "at most 3 photo(s)"),
    ([("a.jpg", b"not a photo")], {}, 415, "a.jpg"),
    ([], {}, 400, "missing the 'photos' file fields"),
    (album_photos()[:1], {"attributes": ""}, 400, "missing 'attributes'"),
    (album_photos()[:1], {"attributes": "Wizard"}, 400, "Wizard"),
])
def test_bad_album_requests_say_why(album_server_url: str, photos, fields, status, message) -> None:
    if not photos:  # a form with a field but no photo
        reply = httpx.post(f"{album_server_url}/v1/album", files={"other": ("x", b"1")},
                           data={"attributes": "Male"}, timeout=30)
    else:
        reply = post_album(album_server_url, photos, **fields)
    assert reply.status_code == status and message in reply.json()["error"], reply.text


def test_without_face_recognition_an_album_is_not_offered(server_url: str, monkeypatch) -> None:
    from infoscrub import consistent_album
    from infoscrub.errors import InfoscrubError
    from infoscrub.faces import identity

    def missing():
        raise InfoscrubError(identity.MISSING)

    monkeypatch.setattr(consistent_album, "shared_embedder", missing)
    monkeypatch.setattr(identity, "available", lambda: False)
    assert httpx.get(f"{server_url}/v1/attributes").json()["album"] is False
    reply = post_album(server_url, album_photos()[:1])
    assert reply.status_code == 501 and "infoscrub[identity]" in reply.json()["error"]


def raw_multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "album-boundary") -> tuple[bytes, dict]:
    """A multipart body written by hand: (field name, filename or None for no filename=
    parameter at all, bytes) per part; and its headers."""
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + ("" if filename is None else f'; filename="{filename}"')
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("size, message", [(2000, "'photos' part 3 is not a file"),
                                           (100_000, "a form part with no filename is over 64 KB")])
def test_a_photo_part_without_filename_is_refused_not_dropped(album_server_url: str, size, message) -> None:
    """Starlette parses a part without filename= as text, so it used to vanish from the
    album: 3 photos sent, 2 returned, 200. Its bytes are lost by then, so: refused, in one line."""
    face = encode(astronaut(), "JPEG")
    body, headers = raw_multipart([("attributes", None, b"Male"), ("photos", "a.jpg", face),
                                   ("photos", "b.jpg", face), ("photos", None, (face * 3)[:size])])
    reply = httpx.post(f"{album_server_url}/v1/album", content=body, headers=headers, timeout=60)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert message in error and "send every photo as a file" in error and "\n" not in error


def test_faceless_photos_are_named_not_returned_and_names_are_unique(album_server_url: str) -> None:
    """One rule with /v1/scrub (422) and `scrub` (nothing written): a photo with no face
    found is not returned as if scrubbed; the result names it and says why."""
    blank = encode(np.full((120, 160, 3), 70, np.uint8), "PNG")
    body, headers = raw_multipart([("attributes", None, b"Male"), ("photos", "a.jpg", encode(astronaut(), "JPEG")),
                                   ("photos", "", blank), ("photos", "../x/a.jpg", encode(tinted_astronaut(), "JPEG"))])
    reply = httpx.post(f"{album_server_url}/v1/album", content=body, headers=headers, timeout=60)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert [p["name"] for p in result["photos"]] == ["a.jpg", "photo 2", "a.jpg (2)"]
    assert [p["status"] for p in result["photos"]] == ["scrubbed", "no_face", "scrubbed"]
    faceless = result["photos"][1]
    assert faceless["image"] is None and faceless["report"] is None
    assert "no face found" in faceless["message"] and "detector missed it" in faceless["message"]
    assert result["no_face"] == ["photo 2"]
    assert all(p["image"] for p in result["photos"] if p["status"] == "scrubbed")
    assert result["album"]["photos"] == 3


def test_an_album_with_no_face_at_all_is_a_422_as_one_photo_is(album_server_url: str) -> None:
    blank = encode(np.full((120, 160, 3), 70, np.uint8), "PNG")
    reply = post_album(album_server_url, [("a.png", blank), ("b.png", blank)])
    assert reply.status_code == 422 and "no face found in any of the 2 photo(s)" in reply.json()["error"]


@pytest.mark.parametrize("filenames, names", [
    (["a.jpg", "a.jpg", "a.jpg"], ["a.jpg", "a.jpg (2)", "a.jpg (3)"]),
    (["", None, "/", ".."], ["photo 1", "photo 2", "photo 3", "photo 4"]),
    (["C:\\Users\\me\\b.png", "../../etc/passwd"], ["b.png", "passwd"]),
    (["photo 2", ""], ["photo 2", "photo 2 (2)"]),
])
def test_album_names(filenames, names) -> None:
    from infoscrub.service.app import album_names

    assert album_names(filenames) == names


def test_a_single_photo_part_without_filename_says_so(server_url: str) -> None:
    body, headers = raw_multipart([("attributes", None, b"Male"), ("photo", None, b"\xff\xd8 a photo")])
    reply = httpx.post(f"{server_url}/v1/scrub", content=body, headers=headers, timeout=30)
    assert reply.status_code == 400 and "'photo' part is not a file" in reply.json()["error"]
