"""The multi-photo attacker of ``evaluate --album`` on beliefs and models with a known response."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.album_attack import (
    album_section,
    averaging_attacker,
    evaluate_album,
    person_values,
)
from infoscrub.evaluation.metrics import entropy_bits
from infoscrub.evaluation.people import PeopleFaces


def test_averaging_attacker_on_known_beliefs():
    p = np.array([0.9, 0.4, 0.4, 0.2, 0.2, 0.6, 0.7])
    people = np.array([0, 0, 0, 1, 1, 1, 2])
    result = averaging_attacker(p, people, {0: 1, 1: 0, 2: 1}, ks=(1, 3))
    # k = 1: person 0 is read right in 1 photo of 3, person 1 in 2 of 3, person 2 always
    assert result["1"]["people"] == 3 and result["1"]["accuracy"] == pytest.approx((1 / 3 + 2 / 3 + 1) / 3)
    # k = 3: the means 0.567 and 0.333 are both on the right side; person 2 has one photo
    assert result["3"] == {"people": 2, "accuracy": 1.0,
                           "entropy_bits": pytest.approx((entropy_bits(1.7 / 3) + entropy_bits(1.0 / 3)) / 2)}
    assert averaging_attacker(p, people, {0: 1}, ks=(10,))["10"] == {"people": 0, "accuracy": None,
                                                                     "entropy_bits": None}


def test_a_persons_value_is_the_majority_of_their_labels():
    labels = np.array([1, 1, 0, 0, 1, 0, 0])
    assert person_values(labels, np.array([3, 3, 3, 5, 5, 8, 8])) == {3: 1, 8: 0}  # person 5 splits evenly


class Brightness:
    """A model whose every reading is a face's brightness: p = (mean pixel + 1) / 2."""

    attributes = ["Male", "Young"]
    alignment = "celebahq"
    image_size = 8
    device = torch.device("cpu")

    def predict(self, x):
        return ((x.float().mean(dim=(1, 2, 3)) + 1) / 2)[:, None].expand(-1, 2)


class Painter(Brightness):
    """An editor that paints the target value: an inverted face becomes brightness 0.9 when
    the attribute is to be shown present, 0.1 when absent; obfuscation mixes the face with
    that by a map whose value is the face's own brightness."""

    can_obfuscate = True

    def codes(self, x):
        return self.predict(x)

    def _painted(self, x, attributes, labels):
        col = self.attributes.index(attributes[0])
        current = (self.codes(x)[:, col] > 0.5).float() if labels is None else labels[:, col].float()
        return ((1.0 - current) * 0.8 + 0.1).view(-1, 1, 1, 1).expand_as(x) * 2 - 1

    def mixing(self, x, attributes, labels=None):
        return self.codes(x)[:, :1, None, None].expand(-1, 1, *x.shape[2:])

    def edit(self, x, attributes, mode="invert", strength=1.0, labels=None, alpha=None):
        painted = self._painted(x, attributes, labels)
        if mode == "invert":
            return painted
        alpha = self.mixing(x, attributes) if alpha is None else alpha
        return alpha * x + (1 - alpha) * painted


def people_of(brightness: list[float], people: list[int], labels: list[int]) -> PeopleFaces:
    images = np.stack([np.full((8, 8, 3), round(b * 255), np.uint8) for b in brightness])
    return PeopleFaces(images=images, names=[f"{i}.jpg" for i in range(len(people))], people=np.array(people),
                       labels=np.array([[v, 0] for v in labels], np.uint8), attribute_names=["Male", "Young"],
                       alignment="celebahq", missed=[])


def test_album_scrubbing_against_photo_by_photo_on_a_known_model():
    # person 0 is male; the model reads one of their 3 photos wrong. Person 1 is not.
    people = people_of([0.8, 0.8, 0.3, 0.2, 0.2, 0.2], [0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])
    result = evaluate_album(Painter(), Brightness(), people, ["Male"], ks=(1, 3))
    male = result["per_attribute"]["Male"]
    assert male["people"] == 2
    acc = {c: {k: male[c]["k"][k]["accuracy"] for k in ("1", "3")} for c in result["conditions"]}
    assert acc["original"] == {"1": pytest.approx((2 / 3 + 1) / 2), "3": 1.0}
    # photo by photo, the misread photo is painted male (0.9): one photo of three tells the
    # truth and contradicts the others
    assert acc["per_photo_invert"] == {"1": pytest.approx(1 / 6), "3": 0.0}
    assert male["per_photo_invert"]["contradicting"] == 0.5
    # as an album, every photo of person 0 is painted not male
    assert acc["album_invert"] == {"1": 0.0, "3": 0.0}
    assert male["album_invert"]["contradicting"] == 0.0
    # obfuscation by one map per person: the person's photos are mixed alike
    assert result["conditions"] == ["original", "per_photo_invert", "album_invert", "per_photo_obfuscate",
                                    "album_obfuscate"]
    assert result["mean"]["album_invert"]["k"]["1"]["accuracy"] == 0.0
    lines = "\n".join(album_section({"album": {**result, "data": "x"}}))
    assert "| Inverted as an album | 0.000 | 0.000 |" in lines


def test_faces_in_the_wrong_convention_are_refused():
    people = people_of([0.5, 0.5], [0, 0], [1, 1])
    people.alignment = "celeba"
    with pytest.raises(InfoscrubError, match="the model needs celebahq at 8 px"):
        evaluate_album(Painter(), Brightness(), people, ["Male"])
    people.alignment = "celebahq"
    with pytest.raises(InfoscrubError, match="Smiling: the adversary or the people's labels do not cover it"):
        evaluate_album(Painter(), Brightness(), people, ["Smiling"])
