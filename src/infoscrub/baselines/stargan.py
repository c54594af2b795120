"""StarGAN (Choi et al., CVPR 2018) as a baseline editor, faithful to the official 128x128
release: its networks, their config section and the editor (training: ``stargan_training``).

Networks (official ``model.py``):

- Generator: the condition vector c (B, n) is tiled to (B, n, H, W) and concatenated to the
  image; conv 7x7 -> 2 stride-2 convs 4x4 -> 6 residual blocks -> 2 transposed convs 4x4
  -> conv 7x7 -> tanh. Every conv without bias, each followed by
  ``InstanceNorm2d(affine=True, track_running_stats=True)`` and ReLU.
- Discriminator (PatchGAN): 6 stride-2 convs 4x4 with LeakyReLU(0.01) (conv_dim doubling
  up to 2048 at 2x2), then ``conv1`` 3x3 -> 1 channel (real/fake per patch) and ``conv2``
  with kernel image_size / 64 -> n logits (the auxiliary attribute classifier).
  At conv_dim 64 and five attributes: G 8,430,528 and D 44,762,048 parameters.

Inference: the official ``test()`` never calls ``eval()``, so instance norm normalises each
image with its own statistics; ``StarGANEditor`` does the same (running stats unused).
Inverting attribute i sets c_i = 1 - current_i and keeps the other entries at their current
values; the current values come from the labels when given (labelled evaluation path) or
from the discriminator's auxiliary classifier (label-free path, as a photo would take).
StarGAN has no notion of obfuscation: ``edit(mode='obfuscate')`` is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infoscrub.attributes import resolve_attributes
from infoscrub.baselines.common import (baseline_checkpoint_path, building, check_baseline_state, check_edit_args,
                                        current_values)
from infoscrub.inference import attribute_mask
from infoscrub.config import config_from_dict
from infoscrub.editing import EditsOneByOne
from infoscrub.errors import InfoscrubError
from infoscrub.storage.checkpoints import checkpoint_info, load_checkpoint, load_module_state

KIND = "stargan"


# --------------------------------------------------------------------------------------
# Networks (official model.py)


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class ResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _instance_norm(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _instance_norm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class StarGANGenerator(nn.Module):
    def __init__(self, c_dim: int, conv_dim: int = 64, repeat_num: int = 6) -> None:
        super().__init__()
        self.c_dim = c_dim
        layers: list[nn.Module] = [nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
                                   _instance_norm(conv_dim), nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), _instance_norm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]  # bottleneck
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), _instance_norm(dim // 2),
                       nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.to(x.dtype).view(c.size(0), c.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class StarGANDiscriminator(nn.Module):
    """Returns (src (B, 1, h, w) realism scores, cls (B, n) attribute logits)."""

    def __init__(self, c_dim: int, image_size: int = 128, conv_dim: int = 64, repeat_num: int = 6) -> None:
        super().__init__()
        if image_size % (2 ** repeat_num):
            raise InfoscrubError(f"StarGAN's discriminator halves {image_size}px images {repeat_num} times; "
                                 f"use an image size that is a multiple of {2 ** repeat_num} or lower "
                                 "model.d_repeat_num")
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        kernel = image_size // 2 ** repeat_num
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)


def per_image_instance_norm(module: nn.Module) -> nn.Module:
    """Make every InstanceNorm2d normalise with the input's own statistics, also in eval mode
    (what the official test() does by never calling eval()); the running buffers are dropped."""
    for m in module.modules():
        if isinstance(m, nn.InstanceNorm2d):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
    return module


# --------------------------------------------------------------------------------------
# Model config (the checkpoint's "model" section)


@dataclass
class StarGANModelConfig:
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat_num: int = 6  # residual blocks in G
    d_repeat_num: int = 6  # stride-2 convs in D


def build_networks(n: int, image_size: int, model: StarGANModelConfig) -> tuple[StarGANGenerator, StarGANDiscriminator]:
    return (StarGANGenerator(n, model.g_conv_dim, model.g_repeat_num),
            StarGANDiscriminator(n, image_size, model.d_conv_dim, model.d_repeat_num))


# --------------------------------------------------------------------------------------
# Editor


class StarGANEditor(EditsOneByOne):
    """A trained StarGAN behind ``infoscrub.inference.Editor``'s interface (invert only)."""

    can_obfuscate = False

    def __init__(self, generator: StarGANGenerator, discriminator: StarGANDiscriminator,
                 attributes: list[str], alignment: str, image_size: int,
                 device: str | torch.device = "cpu", info: dict[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.generator = per_image_instance_norm(generator).to(self.device).eval()
        self.discriminator = discriminator.to(self.device).eval()
        self.attributes, self.alignment, self.image_size = list(attributes), alignment, int(image_size)
        self.info = info or {}

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "StarGANEditor":
        path = baseline_checkpoint_path(path)
        return cls.from_checkpoint(path, load_checkpoint(path, KIND), device)

    @classmethod
    def from_checkpoint(cls, path: Path, state: dict[str, Any], device: str | torch.device = "cpu") -> "StarGANEditor":
        """The editor of a StarGAN checkpoint already read by ``load_checkpoint``."""
        check_baseline_state(path, KIND, state)
        model = config_from_dict(StarGANModelConfig, state["config"]["model"], "model")
        attributes = state["attributes"]
        with building(path, KIND):
            G, D = build_networks(len(attributes), state["image_size"], model)
            load_module_state(G, state["models"]["generator"], "generator")
            load_module_state(D, state["models"]["discriminator"], "discriminator")
        info = checkpoint_info(state)
        return cls(G, D, attributes, state["alignment"], state["image_size"], device, info)

    @classmethod
    def untrained(cls, attributes: list[str], alignment: str = "celebahq", image_size: int = 128,
                  conv_dim: int = 8, seed: int = 0) -> "StarGANEditor":
        torch.manual_seed(seed)
        attributes = resolve_attributes(attributes)
        repeat = min(6, (image_size & -image_size).bit_length() - 1)  # halvings the size allows
        G, D = build_networks(len(attributes), image_size, StarGANModelConfig(conv_dim, conv_dim, 6, repeat))
        return cls(G, D, attributes, alignment, image_size, "cpu", {"kind": "untrained"})

    @torch.no_grad()
    def codes(self, faces: torch.Tensor) -> torch.Tensor:
        """P(attribute present) from the discriminator's auxiliary classifier."""
        return torch.sigmoid(self.discriminator(faces.to(self.device, torch.float32))[1].float())

    @torch.no_grad()
    def edit(self, faces: torch.Tensor, attributes: list[str], mode: str = "invert",
             strength: float = 1.0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Invert ``attributes`` of faces in [-1, 1] (B, 3, S, S): c = current values with the
        chosen entries flipped, output G(x, c). ``labels`` (B, n) in ``self.attributes``'
        order give the current values; without them the auxiliary classifier does."""
        strength = check_edit_args("StarGAN", mode, strength)
        x = faces.to(self.device, torch.float32)
        mask = attribute_mask(self.attributes, attributes, x.shape[0], self.device)
        current = current_values((self.codes(x) > 0.5).float(), labels, len(self.attributes))
        target = torch.where(mask, 1.0 - current, current)
        out = self.generator(x, target).float()
        return x + strength * (out - x)
