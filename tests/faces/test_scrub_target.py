"""The privacy report after sharing, and a strength chosen per face, on real face photos
(the stand-in editor brightens faces; the stand-in attacker's belief falls as they brighten)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_faces import ATTRIBUTES, BrightnessAttacker, FakeEditor, astronaut, make_scrubber, two_faces

import infoscrub.cli as cli
from infoscrub.edit_request import Target
from infoscrub.errors import InfoscrubError
from infoscrub.scrubber import Scrubber
from infoscrub.sharing import PHOTO_CHANNELS


def target_scrubber() -> Scrubber:
    return Scrubber(FakeEditor(ATTRIBUTES), BrightnessAttacker())


def test_the_report_says_what_sharing_leaves(tmp_path):
    _, report = make_scrubber().scrub(two_faces(), ["Male"], mode="invert")
    assert report["sharing_channels"] == list(PHOTO_CHANNELS)
    for face in report["faces"]:
        shared = face["attacker_after_sharing"]
        assert set(shared) == set(PHOTO_CHANNELS)
        assert all(set(ps) == {"Male"} and all(0 <= p <= 1 for p in ps.values()) for ps in shared.values())


def test_a_target_picks_the_smallest_strength_per_face():
    scrubber = target_scrubber()
    _, report = scrubber.scrub(two_faces(), ["Male"], mode="invert", target=Target(margin=0.2))
    for face in report["faces"]:
        before = face["attacker"]["Male"]["p_before"]
        assert before > 0.5  # the stand-in attacker sees it present
        assert face["target"]["reached"] and 0 < face["strength"] < 1
        assert face["attacker"]["Male"]["p_after"] < 0.3
    # a smaller strength would not have reached the goal: the search stops at the crossing
    half = face["strength"] - 0.05
    _, weaker = scrubber.scrub(two_faces(), ["Male"], mode="invert", strength=half)
    assert weaker["faces"][1]["attacker"]["Male"]["p_after"] > 0.25


def test_obfuscate_aims_at_one_half():
    _, report = target_scrubber().scrub(astronaut(), ["Male"], mode="obfuscate", target=Target(tolerance=0.05))
    face = report["faces"][0]
    assert face["target"]["reached"] and abs(face["attacker"]["Male"]["p_after"] - 0.5) < 0.06


class SureAttacker(BrightnessAttacker):
    """Sure of every attribute whatever the editor does: no strength can fool it."""

    def predict(self, faces):
        import torch

        return torch.full((len(faces), len(self.attributes)), 0.95)


def test_an_unreachable_goal_is_named(tmp_path, capsys, monkeypatch):
    scrubber = Scrubber(FakeEditor(ATTRIBUTES), SureAttacker())
    _, report = scrubber.scrub(astronaut(), ["Male"], mode="invert", target=Target(margin=0.2))
    assert not report["faces"][0]["target"]["reached"] and report["faces"][0]["strength"] == 1.0
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))
    source = tmp_path / "me.png"
    from PIL import Image

    Image.fromarray(astronaut()).save(source)
    code = cli.main(["scrub", str(source), "--attributes", "Male", "--output", str(tmp_path / "o.png"),
                     "--target"])
    err = capsys.readouterr().err
    assert code == 0 and "face 0 did not reach the goal" in err


def test_target_needs_an_attacker_and_excludes_strength(tmp_path, capsys, monkeypatch):
    with pytest.raises(InfoscrubError, match="needs the report attacker"):
        Scrubber(FakeEditor(ATTRIBUTES), None).scrub(astronaut(), ["Male"], target=Target())
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: target_scrubber()))
    args = ["scrub", str(tmp_path / "x.png"), "--attributes", "Male", "--output", str(tmp_path / "o.png")]
    assert cli.main(args + ["--target", "--strength", "0.5"]) == 2
    assert "drop --strength" in capsys.readouterr().err
    assert cli.main(args + ["--target", "--target-after", "tiktok"]) == 2
    assert "unknown sharing channel" in capsys.readouterr().err


def test_the_goal_can_be_asked_to_hold_after_jpeg():
    _, report = target_scrubber().scrub(astronaut(), ["Male"], target=Target(after="jpeg75"))
    face = report["faces"][0]
    assert face["target"]["reached"] and face["attacker_after_sharing"]["jpeg75"]["Male"] < 0.3
    assert np.isfinite(face["strength"])
