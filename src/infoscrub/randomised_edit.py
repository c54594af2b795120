"""The randomised defences applied: a strength, further attributes and noise on the mixing
map drawn per face (``edit_request.Randomise``). One function for the product (the scrubber)
and for its measurement (``evaluation.adaptive``), so what is measured is what ships.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import torch

from infoscrub.edit_request import Randomise
from infoscrub.errors import InfoscrubError


def randomness(randomise: Randomise) -> torch.Generator:
    """The draws' source: seeded when the settings give a seed, else fresh and secret (an
    attacker who could replay the draws would undo them)."""
    seed = randomise.seed if randomise.seed is not None else secrets.randbits(63)
    return torch.Generator().manual_seed(int(seed))


@dataclass
class Drawn:
    """What was drawn for a batch of faces."""

    strengths: torch.Tensor  # (B,) the strength applied to each face
    extra: torch.Tensor | None  # (B, n) bool: further attributes edited, in the model's order


def draw(randomise: Randomise, strength: float, count: int, editor_attributes: list[str],
         chosen: list[str], generator: torch.Generator) -> Drawn:
    low = strength if randomise.strength_low is None else randomise.strength_low
    strengths = low + (strength - low) * torch.rand(count, generator=generator)
    extra = None
    if randomise.extra_flip:
        picked = set(chosen)
        others = torch.tensor([a not in picked for a in editor_attributes])
        extra = (torch.rand(count, len(others), generator=generator) < randomise.extra_flip) & others
    return Drawn(strengths, extra)


@torch.no_grad()
def edit_randomised(editor: Any, faces: torch.Tensor, chosen: list[str], mode: str, strength: float,
                    randomise: Randomise, generator: torch.Generator) -> tuple[torch.Tensor, Drawn]:
    """Faces in [-1, 1] (B, 3, S, S) edited with this batch's draws: the change at full
    strength with the extra attributes and the noisy mixing map, then each face's strength."""
    if (randomise.extra_flip or randomise.alpha_noise) and not hasattr(editor, "mixing"):
        raise InfoscrubError("extra flips and mixing noise need an InfoScrub editor (not a baseline)")
    drawn = draw(randomise, strength, len(faces), list(editor.attributes), chosen, generator)
    kwargs: dict[str, Any] = {}
    if drawn.extra is not None:
        kwargs["extra"] = drawn.extra
    if randomise.alpha_noise:
        alpha = editor.mixing(faces, chosen, extra=drawn.extra)
        noise = torch.randn(alpha.shape, generator=generator).to(alpha.device) * randomise.alpha_noise
        kwargs["alpha"] = (alpha + noise).clamp(0.0, 1.0)
    full = editor.edit(faces, chosen, mode=mode, strength=1.0, **kwargs).float()
    x = faces.to(full.device, torch.float32)  # the editor works on its own device
    s = drawn.strengths.to(x.device, x.dtype)[:, None, None, None]
    return x + s * (full - x), drawn
