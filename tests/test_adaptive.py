"""The adaptive attacker (infoscrub.evaluation.adaptive): an attacker trained on scrubbed faces
with their true labels learns back an edit that is a fixed map, which the fixed attacker
cannot; the policies' randomness is seeded and checked."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from infoscrub.data.batches import to_model_range
from infoscrub.data.imageset import ImageSet
from infoscrub.edit_request import Randomise
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.adaptive import (AdaptiveConfig, ScrubPolicy, adaptive_section, budget_subset, budgets_for,
                                           defence_verdicts, evaluate_adaptive, parse_policy, scrub_split,
                                           train_attacker, with_strength_plane)
from infoscrub.inference import Attacker, Editor
from infoscrub.models.adversary import AdversaryConfig
from infoscrub.training.adversary import AdversaryTrainConfig
from infoscrub.training.config import RunConfig

SIZE = 16


def coloured_faces(count: int, seed: int, split: str, size: int = SIZE) -> ImageSet:
    """'Male' faces are red, the others blue, under noise: an attribute any attacker reads."""
    rng = np.random.default_rng(seed)
    male = rng.random(count) < 0.5
    images = rng.integers(40, 90, size=(count, 3, size, size))
    images[male, 0] += 120
    images[~male, 2] += 120
    labels = np.stack([male, rng.random(count) < 0.5], 1).astype(np.uint8)
    return ImageSet(torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels),
                    [f"{i}.png" for i in range(count)], ["Male", "Smiling"], "celebahq", split)


class ChannelSwapEditor:
    """A stand-in editor whose 'inversion' is a fixed colour map (red <-> blue): it fools an
    attacker trained on unedited faces and is exactly what an adaptive attacker can learn."""

    attributes = ["Male", "Smiling"]
    device = torch.device("cpu")
    image_size = SIZE
    alignment = "celebahq"

    def edit(self, faces, attributes, mode="invert", strength=1.0, labels=None):
        return faces.flip(1)


def tiny_attacker_config(steps: int = 150) -> AdversaryTrainConfig:
    return AdversaryTrainConfig(model=AdversaryConfig(width=8),
                                run=RunConfig(steps=steps, batch_size=32, device="cpu", log_every=10**9,
                                              sample_every=10**9, checkpoint_every=10**9, progress=False))


def test_the_adaptive_attacker_recovers_what_the_fixed_one_misses(tmp_path):
    train, test = coloured_faces(512, 0, "train"), coloured_faces(256, 1, "test")
    fixed = Attacker(train_attacker(train, ["Male", "Smiling"], tiny_attacker_config(), tmp_path / "fixed"),
                     ["Male", "Smiling"], SIZE)
    cfg = AdaptiveConfig(policies=[ScrubPolicy("invert")], budgets=[0], attacker=tiny_attacker_config())
    result = evaluate_adaptive(ChannelSwapEditor(), fixed, train, test, ["Male"], cfg, tmp_path, log=lambda m: None)

    assert result["unedited"]["fixed"]["Male"]["accuracy"] > 0.95  # the fixed attacker reads red / blue
    invert = result["policies"][0]
    assert invert["name"] == "invert"
    assert invert["fixed"]["Male"]["accuracy"] < 0.05  # ... and the swap fools it completely
    adaptive = invert["adaptive"]["all"]
    assert adaptive["labelled_faces"] == 512
    assert adaptive["scrubbed"]["Male"]["accuracy"] > 0.95  # learnt back from scrubbed faces
    assert adaptive["unedited"]["Male"]["accuracy"] < 0.05  # it learnt the swapped map, not the face
    assert 0.5 <= result["chance"]["Male"] <= 0.6


def test_an_attribute_left_alone_is_not_hidden_from_either_attacker(tmp_path):
    """The swap hides nothing that is not colour: 'Smiling' here is noise, so no attacker
    beats chance on it, adaptive or fixed (the measurement does not invent privacy)."""
    train, test = coloured_faces(256, 2, "train"), coloured_faces(256, 3, "test")
    fixed = Attacker(train_attacker(train, ["Smiling"], tiny_attacker_config(60), tmp_path / "f"), ["Smiling"], SIZE)
    cfg = AdaptiveConfig(policies=[ScrubPolicy("invert")], budgets=[0], attacker=tiny_attacker_config(60))
    result = evaluate_adaptive(ChannelSwapEditor(), fixed, train, test, ["Smiling"], cfg, tmp_path, log=lambda m: None)
    accuracy = result["policies"][0]["adaptive"]["all"]["scrubbed"]["Smiling"]["accuracy"]
    assert abs(accuracy - 0.5) < 0.12


def test_random_strengths_are_seeded_and_within_the_range():
    faces = coloured_faces(40, 4, "test").images
    policy = ScrubPolicy("invert", 1.0, Randomise(strength_low=0.5))
    a, strengths = scrub_split(ChannelSwapEditor(), faces, ["Male"], policy, batch_size=16, seed=7)
    b, again = scrub_split(ChannelSwapEditor(), faces, ["Male"], policy, batch_size=16, seed=7)
    assert torch.equal(a, b) and torch.equal(strengths, again)
    assert float(strengths.min()) >= 0.5 and float(strengths.max()) <= 1.0 and strengths.std() > 0.05
    plain, ones = scrub_split(ChannelSwapEditor(), faces, ["Male"], ScrubPolicy("invert"), batch_size=16)
    assert torch.equal(plain, faces.flip(1)) and bool((ones == 1).all())
    planes = with_strength_plane(a, strengths)
    assert planes.shape == (40, 4, SIZE, SIZE)
    assert torch.equal(planes[:, 3, 0, 0], (strengths * 255).round().to(torch.uint8))


def test_extra_flips_and_mixing_noise_reach_the_editor():
    """extra_flip=1 edits every attribute not chosen as well; alpha_noise perturbs the mixer's
    map within [0, 1] (an untrained editor's edit is the identity, so the calls are checked)."""
    editor = Editor.untrained(["Male", "Smiling", "Young"], image_size=64, width=4)
    calls = []
    edit = editor.edit

    def spy(faces, attributes, **kwargs):
        calls.append(kwargs)
        return edit(faces, attributes, **kwargs)

    editor.edit = spy
    faces = coloured_faces(8, 5, "test", size=64).images
    scrub_split(editor, faces, ["Male"], ScrubPolicy("invert", randomise=Randomise(extra_flip=1.0)), seed=1)
    assert calls[-1]["extra"].tolist() == [[False, True, True]] * 8
    scrub_split(editor, faces, ["Male"], ScrubPolicy("obfuscate", randomise=Randomise(alpha_noise=0.3)), seed=1)
    alpha, plain = calls[-1]["alpha"], editor.mixing(to_model_range(faces), ["Male"])
    assert alpha.shape == plain.shape and float((alpha - plain).abs().mean()) > 0.05
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0
    with pytest.raises(InfoscrubError, match="InfoScrub editor"):
        scrub_split(ChannelSwapEditor(), faces, ["Male"], ScrubPolicy("invert", randomise=Randomise(extra_flip=0.5)))


@pytest.mark.parametrize("policy, words", [
    (ScrubPolicy("blur"), "unknown mode"),
    (ScrubPolicy("invert", 0.5, Randomise(strength_low=0.8)), "between 0 and the strength"),
    (ScrubPolicy("invert", randomise=Randomise(extra_flip=1.5)), "probability"),
    (ScrubPolicy("invert", randomise=Randomise(alpha_noise=0.1)), "needs --mode obfuscate"),
])
def test_policies_that_make_no_sense_are_refused(policy, words):
    with pytest.raises(InfoscrubError, match=words):
        policy.check()


def test_policy_names_and_budgets():
    assert ScrubPolicy("obfuscate", randomise=Randomise(strength_low=0.5, extra_flip=0.3)).name == \
        "obfuscate, strength U[0.5, 1], 30% extra flips"
    assert ScrubPolicy("invert", strength=0.7).name == "invert, strength 0.7"
    assert parse_policy("obfuscate:strength=0.5,extra=0.3") == \
        ScrubPolicy("obfuscate", randomise=Randomise(strength_low=0.5, extra_flip=0.3))
    assert parse_policy("invert@0.7").name == "invert, strength 0.7"
    assert parse_policy("obfuscate:noise=0.2").randomise.alpha_noise == 0.2
    rows = budget_subset(1000, 100, seed=0)
    assert len(rows) == 100 and len(set(rows.tolist())) == 100 and np.array_equal(rows, budget_subset(1000, 100, 0))
    assert len(budget_subset(50, 100, 0)) == 50 and len(budget_subset(50, 0, 0)) == 50
    assert budgets_for(ScrubPolicy("invert"), [100, 1000, 0]) == [100, 1000, 0]
    assert budgets_for(parse_policy("obfuscate:extra=0.3"), [100, 1000, 0]) == [0]
    assert budgets_for(parse_policy("obfuscate:extra=0.3"), [100, 1000]) == [1000]


def _entry(mode: str, fixed: float, adaptive: float, seen: float | None = None, **drawn) -> dict:
    """A policy's record as evaluate_adaptive writes it, one attribute read at these accuracies."""
    policy = ScrubPolicy(mode, randomise=Randomise(**drawn))
    entry = {"policy": asdict(policy), "name": policy.name, "fixed": {"Male": {"accuracy": fixed}},
             "adaptive": {"all": {"labelled_faces": 10, "scrubbed": {"Male": {"accuracy": adaptive}},
                                  "unedited": {"Male": {"accuracy": 0.9}}}}}
    if seen is not None:
        entry["sees_strength"] = {"labelled_faces": 10, "scrubbed": {"Male": {"accuracy": seen}}}
    return entry


def test_a_defence_helps_only_when_its_strongest_attacker_reads_less_than_the_plain_modes():
    result = {"attributes": ["Male"], "train_faces": 10, "test_faces": 10,
              "attacker": {"width": 8, "steps": 1, "batch_size": 1}, "chance": {"Male": 0.5},
              "unedited": {"fixed": {"Male": {"accuracy": 0.95}}},
              "policies": [_entry("obfuscate", 0.90, 0.93),
                           _entry("obfuscate", 0.91, 0.80, seen=0.92, strength_low=0.5),  # learnt back given the strength
                           _entry("obfuscate", 0.85, 0.70, alpha_noise=0.2),
                           _entry("obfuscate", 0.90, 0.92, extra_flip=0.3),
                           _entry("invert", 0.40, 0.70, extra_flip=0.3)]}  # no plain invert beside it
    verdicts = {v["name"]: v for v in defence_verdicts(result)}
    assert len(verdicts) == 3
    strength, noise, extra = (verdicts[e["name"]] for e in result["policies"][1:4])
    assert not strength["helps"] and strength["adaptive"] == 0.92  # the strongest attacker counts
    assert noise["helps"] and abs(noise["lowered_by"] - 0.23) < 1e-9 and noise["fixed"] == 0.85
    assert not extra["helps"]
    text = "\n".join(adaptive_section({"adaptive": result}))
    assert "Do the randomised defences help?" in text and text.count("**no**") == 2
