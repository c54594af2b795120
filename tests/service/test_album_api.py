"""POST /v1/album: several photos, one edit per person, over real HTTP."""

from __future__ import annotations

import base64
import io

import httpx
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
    from infoscrub import album
    from infoscrub.errors import InfoscrubError
    from infoscrub.faces import identity

    def missing():
        raise InfoscrubError(identity.MISSING)

    monkeypatch.setattr(album, "shared_embedder", missing)
    monkeypatch.setattr(identity, "available", lambda: False)
    assert httpx.get(f"{server_url}/v1/attributes").json()["album"] is False
    reply = post_album(server_url, album_photos()[:1])
    assert reply.status_code == 501 and "infoscrub[identity]" in reply.json()["error"]
