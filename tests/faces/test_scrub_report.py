"""The report's JSON is a contract (the CLI writes it, the service returns it, bulk and the
HTML report read it): its keys and their order, pinned here."""

from __future__ import annotations

import json

from conftest_faces import ATTRIBUTES, BrightnessAttacker, ColourEmbedder, FakeEditor, make_scrubber, two_faces

from infoscrub.edit_request import Target
from infoscrub.scrubber import Scrubber

REPORT_KEYS = ["mode", "strength", "attributes", "alignment", "image_size", "aligned_input", "attacker",
               "width", "height", "faces_found", "target", "sharing_channels", "identity_checked", "faces",
               "phrases", "timings_s"]
FACE_KEYS = ["index", "box", "score", "landmarks", "edited", "attributes_edited", "attacker",
             "attacker_after_sharing"]
BELIEF_KEYS = ["p_before", "p_after", "entropy_before_bits", "entropy_after_bits"]


def test_the_report_keys_and_their_order() -> None:
    scrubber = make_scrubber()
    scrubber.identity = ColourEmbedder()
    _, report = scrubber.scrub(two_faces(), ["Male"], faces="1")
    assert list(report) == REPORT_KEYS
    assert json.loads(json.dumps(report)) == report  # plain JSON types
    untouched, edited = report["faces"]
    assert list(untouched) == FACE_KEYS
    assert list(edited) == [*FACE_KEYS, "identity"]
    assert list(edited["identity"]) == ["distance", "same_person", "threshold"]
    assert all(list(numbers) == BELIEF_KEYS for numbers in edited["attacker"].values())
    assert list(report["timings_s"]) == ["detect", "align", "report", "model", "paste", "identity"]


def test_a_target_adds_the_strength_and_the_goal_per_face() -> None:
    scrubber = Scrubber(FakeEditor(ATTRIBUTES), BrightnessAttacker())
    _, report = scrubber.scrub(two_faces(), ["Male"], target=Target(after="jpeg75"))
    assert list(report) == REPORT_KEYS
    assert list(report["target"]) == ["goal", "margin", "tolerance", "after"]
    for face in report["faces"]:
        assert list(face) == [*FACE_KEYS, "strength", "target"]
        assert list(face["target"]) == ["goal", "reached", "p_final", "search_p"]
    assert list(report["timings_s"]) == ["detect", "align", "report", "model", "target", "paste"]
