"""The randomised defences: a strength, further attributes and noise on the mixing map drawn per
face with secret randomness (``edit_request.Randomise``, ``randomised_edit``): parsed and
checked before any model loads, applied by the scrubber's API on the audit's own path,
reported. ``scrub`` does not offer them: the audit measured that none helps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest_faces import ColourEmbedder, astronaut, encode, make_scrubber, two_faces

from infoscrub.edit_request import EditRequest, Randomise, Target, parse_randomise
from infoscrub.errors import InfoscrubError


def test_settings_parse_to_named_fields():
    assert parse_randomise("strength=0.5, extra=0.3,noise=0.2") == Randomise(0.5, 0.3, 0.2)
    assert parse_randomise("extra=0.25", seed=3) == Randomise(extra_flip=0.25, seed=3)
    assert Randomise(0.5, 0.3, 0.2).settings() == {"strength": 0.5, "extra": 0.3, "noise": 0.2}
    assert Randomise(0.5, 0.3).describe(0.9) == "strength U[0.5, 0.9], 30% extra flips"


@pytest.mark.parametrize("text, words", [
    ("speed=2", "keys strength, extra, noise"),
    ("strength", "keys strength, extra, noise"),
    ("extra=lots", "takes a number"),
    ("noise=nan", "finite number"),
    ("", "names nothing"),
])
def test_bad_settings_are_named(text, words):
    with pytest.raises(InfoscrubError, match=words):
        parse_randomise(text)


@pytest.mark.parametrize("request_, words", [
    (EditRequest("Male", "invert", 0.6, randomise=Randomise(strength_low=0.8)), "between 0 and the strength"),
    (EditRequest("Male", "invert", randomise=Randomise(extra_flip=1.2)), "probability"),
    (EditRequest("Male", "invert", randomise=Randomise(alpha_noise=0.2)), "needs --mode obfuscate"),
    (EditRequest("Male", "obfuscate", randomise=Randomise(alpha_noise=-1)), "standard deviation"),
    (EditRequest("Male", "invert", target=Target(), randomise=Randomise(strength_low=0.5)), "target chooses"),
])
def test_requests_that_make_no_sense_are_refused(request_, words):
    with pytest.raises(InfoscrubError, match=words):
        request_.checked()


def test_a_randomness_that_draws_nothing_is_dropped():
    assert EditRequest("Male", randomise=Randomise()).checked().randomise is None


def test_each_face_gets_its_own_strength_within_the_range_and_the_report_says_so():
    scrubber = make_scrubber()
    settings = Randomise(strength_low=0.3, seed=11)
    edited, report = scrubber.scrub(two_faces(), ["Male"], strength=0.9, randomise=settings)
    strengths = [face["randomised"]["strength"] for face in report["faces"]]
    assert all(0.3 <= s <= 0.9 for s in strengths) and strengths[0] != strengths[1]
    assert report["randomise"] == {"drawn_per_face": "strength U[0.3, 0.9]", "strength": 0.3}
    again, _ = scrubber.scrub(two_faces(), ["Male"], strength=0.9, randomise=settings)
    assert np.array_equal(edited, again)  # a seed repeats the draws (measurement, tests)
    unseeded = [scrubber.scrub(two_faces(), ["Male"], strength=0.9, randomise=Randomise(strength_low=0.3))[1]
                for _ in range(2)]
    firsts = [r["faces"][0]["randomised"]["strength"] for r in unseeded]
    assert firsts[0] != firsts[1]  # the product draws fresh, secret randomness every time
    _, plain = scrubber.scrub(two_faces(), ["Male"])
    assert "randomise" not in plain and all("randomised" not in f for f in plain["faces"])


def test_extra_attributes_and_mixing_noise_reach_the_real_editor():
    scrubber = make_scrubber(real_editor=True)
    _, report = scrubber.scrub(astronaut(), ["Male"], mode="obfuscate",
                               randomise=Randomise(extra_flip=1.0, alpha_noise=0.2, seed=1))
    face = report["faces"][0]
    assert face["randomised"]["also_edited"] == [a for a in scrubber.attributes if a != "Male"]
    assert face["attributes_edited"] == ["Male"] and face["randomised"]["strength"] == 1.0


def test_an_album_refuses_edits_drawn_per_face():
    from infoscrub.consistent_album import AlbumScrub, find_people

    scrubber = make_scrubber()
    album = find_people(scrubber, [astronaut()], embedder=ColourEmbedder())
    with pytest.raises(InfoscrubError, match="a randomised edit draws a different edit per face"):
        AlbumScrub(scrubber, album, EditRequest(["Male"], randomise=Randomise(strength_low=0.5)))


def test_scrub_no_longer_offers_the_defences_the_audit_found_useless(tmp_path: Path, capsys, monkeypatch):
    """docs/privacy.md: none of the three lowered what the adaptive attacker reads on the
    shipped weights, so the command does not offer them (the API and the audit keep them)."""
    from conftest_faces import run_scrub, use_small_models

    use_small_models(monkeypatch)
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    with pytest.raises(SystemExit) as stopped:
        run_scrub([source, "--attributes", "Male", "--output", tmp_path / "o.png", "--randomise", "strength=0.5"],
                  capsys)
    assert stopped.value.code == 2 and "--randomise" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
