"""The bundled weights, with no --checkpoint: Scrubber.load() edits the face of the photo
that ships in the repository, and the service built on it answers /v1/scrub."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import serving

from infoscrub.photo_io import read_photo
from infoscrub.rounds.state import package_weights_dir

PHOTO = Path(__file__).resolve().parents[2] / "docs" / "images" / "astronaut.jpg"
pytestmark = pytest.mark.skipif(not (package_weights_dir() / "editor.safetensors").is_file(),
                                reason="no weights are bundled in this tree")


@pytest.fixture(scope="module")
def bundled():
    from infoscrub.scrubber import Scrubber

    return Scrubber.load()  # no path: the bundled editor and attacker


def test_the_bundled_model_edits_the_shipped_photo(bundled):
    photo = read_photo(PHOTO)
    edited, report = bundled.scrub_photo(photo, ["Male", "Smiling"])
    assert report["faces_found"] >= 1 and report["faces"][0]["edited"]
    change = np.abs(edited.rgb.astype(int) - photo.rgb.astype(int))
    assert change.max() > 0  # the face changed ...
    x0, y0, x1, y1 = (int(v) for v in report["faces"][0]["box"])
    w, h = x1 - x0, y1 - y0
    outside = change.copy()  # the aligned crop (the whole head) reaches about a face's size around the box
    outside[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = 0
    assert outside.max() == 0  # ... and nothing far from it
    beliefs = report["faces"][0]["attacker"]
    assert set(beliefs) >= {"Male", "Smiling"}  # the bundled attacker judged it


def test_the_service_runs_on_the_bundled_model(bundled):
    from infoscrub.service.app import create_app

    with serving(create_app(bundled)) as url:
        reply = httpx.post(f"{url}/v1/scrub", files={"photo": ("astronaut.jpg", PHOTO.read_bytes(), "image/jpeg")},
                           data={"attributes": "Male"}, timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.json()["report"]["faces_found"] >= 1
