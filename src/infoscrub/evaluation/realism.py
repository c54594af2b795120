"""Realism of edits, judged by the held-out adversary's eyes.

An edit can fool an attacker by wrecking the photo (Gaussian noise alone leaves an unseen
attacker far less sure), so privacy numbers need a realism number beside them. Realism
here is the Fréchet distance between the held-out adversary's penultimate features (its
pooled ResNet features, before the attribute layer) of one half of the test faces, edited,
and those of the other half, unedited: the same statistic as FID, with a feature space
trained on faces at the model's resolution and no download. Lower is more realistic.

Beside it, for scale, the same distance for the first half unedited (the floor: two
samples of real faces) and for two damaged stand-ins: Gaussian blur (sigma 2 px) and
Gaussian noise (sigma 20 of 255). ``relative`` puts an edit on that scale: 0 is as real as
real faces, 1 is as far as the noise stand-in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from infoscrub.data.batches import to_model_range, to_uint8
from infoscrub.evaluation.fid import GaussianStats, fid_from_stats

BLUR_SIGMA = 2.0  # pixels
NOISE_SIGMA = 20.0  # of 255


@dataclass(frozen=True)
class RealismResult:
    """Fréchet distances (adversary features) to the reference half of the test faces."""

    unedited: float
    blur: float
    noise: float
    inverted: float | None = None
    obfuscated: float | None = None
    faces: int = 0  # faces in each half

    def relative(self, distance: float | None) -> float | None:
        """``distance`` on the scale unedited = 0, noise = 1."""
        if distance is None:
            return None
        return (distance - self.unedited) / max(self.noise - self.unedited, 1e-12)

    def as_dict(self) -> dict[str, float | int | None]:
        out = asdict(self)
        out["inverted_relative"] = self.relative(self.inverted)
        out["obfuscated_relative"] = self.relative(self.obfuscated)
        return out


def penultimate_features(model: nn.Module, faces: torch.Tensor) -> np.ndarray:
    """The input of the model's last linear layer (``fc``) for faces in [-1, 1]."""
    head = model.fc
    seen: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach()))
    try:
        with torch.no_grad():
            model(faces)
    finally:
        hook.remove()
    return seen[0].flatten(1).double().cpu().numpy()


def gaussian_blur(faces: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    from torchvision.transforms.functional import gaussian_blur as blur

    size = 2 * int(np.ceil(3 * sigma)) + 1
    return blur(faces, [size, size], [sigma, sigma])


def gaussian_noise(faces: torch.Tensor, gen: torch.Generator, sigma: float = NOISE_SIGMA) -> torch.Tensor:
    noise = torch.randn(faces.shape, generator=gen, device=faces.device) * (sigma / 127.5)
    return (faces + noise).clamp(-1.0, 1.0)


def measure_realism(model: nn.Module, images_u8: torch.Tensor,
                    edits: dict[str, Callable[[torch.Tensor, np.ndarray], torch.Tensor]],
                    batch_size: int = 128, seed: int = 0) -> RealismResult:
    """Distances of the first half of ``images_u8`` (N, 3, S, S), unedited, damaged and
    through each of ``edits`` (name -> fn(faces in [-1, 1], indices) -> faces), to the
    second half unedited. Every image is rounded to uint8 first, as a shared photo is."""
    model = model.eval()
    device = next(model.parameters()).device
    half = len(images_u8) // 2
    dim = model.fc.in_features
    gen = torch.Generator(device=device).manual_seed(seed)
    reference = GaussianStats(dim)
    sets = {name: GaussianStats(dim) for name in ("unedited", "blur", "noise", *edits)}

    def add(stats: GaussianStats, faces: torch.Tensor) -> None:
        stats.add(penultimate_features(model, to_model_range(to_uint8(faces))))

    for start in range(0, half, batch_size):
        idx = np.arange(start, min(start + batch_size, half))
        add(reference, to_model_range(images_u8[half + idx].to(device)))
        x = to_model_range(images_u8[idx].to(device))
        add(sets["unedited"], x)
        add(sets["blur"], gaussian_blur(x))
        add(sets["noise"], gaussian_noise(x, gen))
        for name, edit in edits.items():
            add(sets[name], edit(x, idx))
    distance = {name: fid_from_stats(stats, reference) for name, stats in sets.items()}
    return RealismResult(faces=half, **distance)


def round_robin_edits(editor, attributes: list[str]) -> dict[str, Callable[[torch.Tensor, np.ndarray], torch.Tensor]]:
    """Label-free inversion (and obfuscation, when the editor has a mixer) of one attribute
    per face, the attributes taken in turn by the face's index."""

    def by_attribute(mode: str) -> Callable[[torch.Tensor, np.ndarray], torch.Tensor]:
        def edit(x: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
            out = x.clone()
            which = idx % len(attributes)
            for k, attribute in enumerate(attributes):
                sel = torch.as_tensor(np.flatnonzero(which == k), device=x.device)
                if len(sel):
                    out[sel] = editor.edit(x[sel], [attribute], mode).to(x.device)
            return out
        return edit

    edits = {"inverted": by_attribute("invert")}
    if editor.can_obfuscate:
        edits["obfuscated"] = by_attribute("obfuscate")
    return edits
