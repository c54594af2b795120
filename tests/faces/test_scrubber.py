"""The Scrubber API end to end on real faces (untrained models: geometry, not quality)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest_faces import ATTRIBUTES, astronaut, make_scrubber, two_faces
from PIL import Image

from infoscrub.entropy import entropy_bits
from infoscrub.errors import InfoscrubError
from infoscrub.faces import identity as faces_identity


@pytest.fixture(scope="module")
def scrubber():
    return make_scrubber()


def changed_boxes(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 0


def test_two_faces_get_two_reports(scrubber) -> None:
    photo = two_faces()
    out, report = scrubber.scrub(photo, ["Male", "Young"], mode="invert")
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert report["faces_found"] == 2 and len(report["faces"]) == 2
    for face in report["faces"]:
        assert face["edited"] and face["attributes_edited"] == ["Male", "Young"]
        assert set(face["landmarks"]) == {"left_eye", "right_eye", "nose", "mouth_left",
                                          "mouth_right"}
        assert set(face["attacker"]) == set(ATTRIBUTES)
        for numbers in face["attacker"].values():
            assert 0 <= numbers["p_before"] <= 1 and 0 <= numbers["p_after"] <= 1
            assert math.isclose(numbers["entropy_before_bits"],
                                entropy_bits(numbers["p_before"]), abs_tol=1e-3)
    changed = changed_boxes(photo, out)
    assert changed[:, :512].any() and changed[:, 512:].any()


def test_only_chosen_faces_change(scrubber) -> None:
    photo = two_faces()
    out, report = scrubber.scrub(photo, "Male", faces="1")
    assert [f["edited"] for f in report["faces"]] == [False, True]
    changed = changed_boxes(photo, out)
    assert not changed[:, :512].any() and changed[:, 512:].any()
    left = report["faces"][0]["attacker"]
    assert all(v["p_before"] == v["p_after"] for v in left.values())


def test_edit_stays_near_the_face(scrubber) -> None:
    photo = astronaut()
    out, report = scrubber.scrub(photo, ["Smiling"], mode="obfuscate", strength=0.5)
    ys, xs = np.nonzero(changed_boxes(photo, out))
    x1, y1, x2, y2 = report["faces"][0]["box"]
    side = max(x2 - x1, y2 - y1)
    assert xs.min() > x1 - 1.5 * side and xs.max() < x2 + 1.5 * side
    assert ys.min() > y1 - 1.5 * side and ys.max() < y2 + 1.5 * side


def test_pillow_images_and_alpha_pass_through(scrubber) -> None:
    rgba = np.concatenate([astronaut(), np.full((512, 512, 1), 200, np.uint8)], axis=2)
    out, report = scrubber.scrub(Image.fromarray(rgba), ["Male"])
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (512, 512)
    assert np.all(np.asarray(out)[..., 3] == 200)
    assert report["faces_found"] == 1


def test_aligned_input_needs_no_detection(scrubber) -> None:
    crop = np.asarray(Image.fromarray(astronaut()[40:210, 140:310]).resize((128, 128)))
    out, report = scrubber.scrub(crop, ["Male"], aligned=True)
    assert report["faces_found"] == 1 and report["faces"][0]["box"] == [0, 0, 128, 128]
    assert out.shape == crop.shape


def test_faceless_photo_is_reported_unchanged(scrubber) -> None:
    blank = np.full((200, 300, 3), 90, np.uint8)
    out, report = scrubber.scrub(blank, ["Male"])
    assert report["faces_found"] == 0 and report["faces"] == []
    np.testing.assert_array_equal(out, blank)


@pytest.mark.parametrize("kwargs, message", [
    ({"attributes": ["Nope"]}, "unknown attribute"),
    ({"attributes": ["Male"], "mode": "blur"}, "unknown mode"),
    ({"attributes": ["Male"], "strength": 3}, "strength"),
    ({"attributes": ["Male"], "faces": "4"}, "face 4"),
    ({"attributes": ["Male"], "faces": "x"}, "face numbers"),
])
def test_bad_requests_are_one_line_errors(scrubber, kwargs, message) -> None:
    with pytest.raises(InfoscrubError, match=message) as caught:
        scrubber.scrub(astronaut(), **kwargs)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("mode", ["invert", "obfuscate"])
def test_real_untrained_models_run_through_the_pipeline(mode: str) -> None:
    scrubber = make_scrubber(alignment="celeba", real_editor=True)
    out, report = scrubber.scrub(two_faces(), ["Male", "Smiling"], mode=mode)
    assert out.shape == two_faces().shape and report["faces_found"] == 2
    assert all(set(f["attacker"]) == set(ATTRIBUTES) for f in report["faces"])
    assert report["alignment"] == "celeba"


class _Embedder:
    """Stand-in for dlib's embedder: the mean colour of the crop, so a brighter face moves."""

    def __init__(self):
        self.alignments = []

    def embed(self, crops, alignment):
        self.alignments.append(alignment)
        return np.stack([np.asarray(c, np.float64).reshape(-1, 3).mean(0) for c in crops])


def test_the_report_says_whether_each_edited_face_is_still_the_same_person(scrubber) -> None:
    from infoscrub.scrubber import Scrubber

    checked = Scrubber(scrubber.editor, scrubber.attacker, identity=_Embedder())
    _, report = checked.scrub(two_faces(), attributes=["Male"], faces="1")
    assert report["identity_checked"] is True
    assert "identity" not in report["faces"][0]  # not edited: nothing to compare
    entry = report["faces"][1]["identity"]
    assert entry["threshold"] == 0.6 and entry["distance"] > 0  # the stand-in edit brightens the face
    assert entry["same_person"] == (entry["distance"] < 0.6)
    assert checked.identity.alignments == ["celebahq"]
    _, untouched = checked.scrub(two_faces(), attributes=["Male"], strength=0.0)
    assert all("identity" not in f for f in untouched["faces"])
    _, off = scrubber.scrub(two_faces(), attributes=["Male"])
    assert off["identity_checked"] is False and all("identity" not in f for f in off["faces"])


@pytest.mark.skipif(not faces_identity.available(), reason="the identity extra is not installed")
def test_with_dlib_an_unchanged_face_is_the_same_person() -> None:
    from infoscrub.scrubber import Scrubber

    base = make_scrubber(real_editor=True)  # an untrained generator is the identity
    checked = Scrubber(base.editor, base.attacker, identity=faces_identity.PerThreadEmbedder())
    _, report = checked.scrub(astronaut(), attributes=["Male"])
    entry = report["faces"][0]["identity"]
    assert entry["same_person"] and entry["distance"] < 0.1
