"""The realism guard: Fréchet distances in an adversary's features put edits on the scale
of unedited faces (floor) and of blur and noise (damage)."""

import numpy as np
import torch

from infoscrub.evaluation.realism import (
    RealismResult,
    gaussian_blur,
    measure_realism,
    penultimate_features,
    round_robin_edits,
)
from infoscrub.inference import Attacker, Editor


def faces(n: int = 64, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random 'faces' (uint8): low-frequency colour fields, as natural images are."""
    gen = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 3, 4, 4, generator=gen)
    return (torch.nn.functional.interpolate(small, size=size, mode="bilinear", align_corners=False) * 255).to(torch.uint8)


def test_penultimate_features_are_the_input_of_the_last_layer():
    attacker = Attacker.untrained(["Male", "Smiling"], image_size=32)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    feats = penultimate_features(attacker.model, x)
    assert feats.shape == (3, attacker.model.fc.in_features)
    logits = attacker.model.fc(torch.as_tensor(feats, dtype=torch.float32))
    assert torch.allclose(logits, attacker.model(x), atol=1e-5)


def test_identity_edit_is_as_real_as_real_faces_and_damage_is_far():
    model = Attacker.untrained(["Male", "Smiling"], image_size=32).model
    images = faces(96)
    result = measure_realism(model, images, {"inverted": lambda x, idx: x,
                                             "obfuscated": lambda x, idx: gaussian_blur(x, 3.0)}, batch_size=16)
    assert result.faces == 48
    assert abs(result.inverted - result.unedited) < 1e-9  # the identity edit is the unedited set
    assert result.noise > result.unedited and result.blur > result.unedited
    assert result.relative(result.inverted) == 0.0
    assert result.relative(result.noise) == 1.0
    assert result.relative(result.obfuscated) > 0.0
    record = result.as_dict()
    assert record["inverted_relative"] == 0.0 and record["faces"] == 48


def test_round_robin_edits_edit_one_attribute_per_face():
    editor = Editor.untrained(["Male", "Smiling", "Eyeglasses"], image_size=32)
    edits = round_robin_edits(editor, list(editor.attributes))
    assert set(edits) == ({"inverted", "obfuscated"} if editor.can_obfuscate else {"inverted"})
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    out = edits["inverted"](x, np.arange(5))
    expected = torch.cat([editor.edit(x[i:i + 1], [editor.attributes[i % 3]]) for i in range(5)])
    assert torch.allclose(out, expected, atol=1e-5)


def test_result_without_edits_has_no_relative():
    result = RealismResult(unedited=1.0, blur=2.0, noise=3.0)
    assert result.as_dict()["inverted_relative"] is None
