"""IcGAN (Perarnau et al., "Invertible Conditional GANs for image editing", 2016) as a baseline editor:
its networks, their config section and the editor (training: ``icgan_training``).

The model: a conditional DCGAN G(z, y) -> x with a discriminator D(x, y), plus two
encoders (the paper's best "IND" variant): E_z(x) -> z and E_y(x) -> y. Editing a face:
z = E_z(x), y = E_y(x), flip the chosen entries of y, x' = G(z, y').

Architecture, adapted from the original 64x64 to 128x128 by one more up/down-sampling
stage (everything else as in the original DCGAN-based design; c = ``conv_dim``):

- G: [z (z_dim, N(0, I)) ; y (n, in {0, 1})] as a 1x1 map -> ConvT 4x4 to 16c @ 4x4
  -> 8c @ 8 -> 4c @ 16 -> 2c @ 32 -> c @ 64 -> 3 @ 128, tanh. BatchNorm + ReLU between
  (the original: 8c @ 4x4 up to 3 @ 64). y enters at the input, where the paper found it
  works best for G.
- D: conv 4x4 stride 2 to c @ 64 (LeakyReLU 0.2, no norm); y tiled to (n, 64, 64) and
  concatenated there (y "in the first convolutional layer", the paper's best position for
  D); then 2c @ 32 -> 4c @ 16 -> 8c @ 8 -> 16c @ 4 with BatchNorm + LeakyReLU 0.2; conv 4x4
  -> one logit (the original stops at 8c @ 4x4).
- E_z, E_y: the same convolutional trunk as D (without y) down to 16c @ 4x4, then a
  fully connected layer of 512 units (ReLU) and a linear output (z_dim for E_z; n logits for
  E_y, read through a sigmoid).

Editing: the chosen entries of y become 1 - current, where current is [sigmoid(E_y(x)) >
0.5] (label-free path) or the labels (labelled path); the other entries are E_y's binarised
prediction (G was trained on binary y). IcGAN does not obfuscate.
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
from infoscrub.storage.checkpoints import checkpoint_info, load_checkpoint, load_module_state

KIND = "icgan"


def _stages(image_size: int) -> int:
    """Stride-2 stages between 4x4 and image_size (5 at 128, 4 at the original 64)."""
    stages = image_size.bit_length() - 3
    if image_size < 16 or 4 * 2 ** stages != image_size:
        raise ValueError(f"IcGAN needs a power-of-two image size of at least 16, got {image_size}")
    return stages


class IcGANGenerator(nn.Module):
    def __init__(self, z_dim: int, n: int, image_size: int = 128, conv_dim: int = 64) -> None:
        super().__init__()
        stages = _stages(image_size)
        dim = conv_dim * 2 ** (stages - 1)  # 16c at 128x128
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + n, dim, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(dim), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(dim // 2), nn.ReLU(True)]
            dim //= 2
        layers += [nn.ConvTranspose2d(dim, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, y.to(z.dtype)], 1)
        return self.main(h[:, :, None, None])


def _trunk(in_ch: int, conv_dim: int, stages: int) -> tuple[list[nn.Module], int]:
    """Stride-2 convs from in_ch (after the first layer) down to 4x4, BN + LeakyReLU 0.2."""
    layers: list[nn.Module] = []
    dim = conv_dim
    for i in range(stages - 1):
        layers += [nn.Conv2d(in_ch if i == 0 else dim, dim * 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(dim * 2), nn.LeakyReLU(0.2, True)]
        dim *= 2
    return layers, dim


class IcGANDiscriminator(nn.Module):
    def __init__(self, n: int, image_size: int = 128, conv_dim: int = 64) -> None:
        super().__init__()
        stages = _stages(image_size)
        self.first = nn.Sequential(nn.Conv2d(3, conv_dim, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))
        layers, dim = _trunk(conv_dim + n, conv_dim, stages)
        self.rest = nn.Sequential(*layers, nn.Conv2d(dim, 1, 4, 1, 0, bias=False))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        y = y.to(h.dtype)[:, :, None, None].expand(-1, -1, h.size(2), h.size(3))
        return self.rest(torch.cat([h, y], 1)).flatten()


class IcGANEncoder(nn.Module):
    def __init__(self, out_dim: int, image_size: int = 128, conv_dim: int = 64, hidden: int = 512) -> None:
        super().__init__()
        stages = _stages(image_size)
        layers, dim = _trunk(conv_dim, conv_dim, stages)
        self.conv = nn.Sequential(nn.Conv2d(3, conv_dim, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True), *layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(dim * 16, hidden), nn.ReLU(True), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))


@dataclass
class IcGANModelConfig:
    z_dim: int = 100
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    e_conv_dim: int = 64
    e_hidden: int = 512


@dataclass
class IcGANNetworks:
    generator: IcGANGenerator
    discriminator: IcGANDiscriminator
    encoder_z: IcGANEncoder
    encoder_y: IcGANEncoder


def build_networks(n: int, image_size: int, model: IcGANModelConfig) -> IcGANNetworks:
    return IcGANNetworks(IcGANGenerator(model.z_dim, n, image_size, model.g_conv_dim),
                         IcGANDiscriminator(n, image_size, model.d_conv_dim),
                         IcGANEncoder(model.z_dim, image_size, model.e_conv_dim, model.e_hidden),
                         IcGANEncoder(n, image_size, model.e_conv_dim, model.e_hidden))


@torch.no_grad()
def encode(Ez: IcGANEncoder, Ey: IcGANEncoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, P(attribute present))."""
    return Ez(x).float(), torch.sigmoid(Ey(x).float())


class IcGANEditor(EditsOneByOne):
    """A trained IcGAN behind ``infoscrub.inference.Editor``'s interface (invert only)."""

    can_obfuscate = False

    def __init__(self, nets: IcGANNetworks, attributes: list[str], alignment: str, image_size: int,
                 device: str | torch.device = "cpu", info: dict[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.generator = nets.generator.to(self.device).eval()
        self.encoder_z = nets.encoder_z.to(self.device).eval()
        self.encoder_y = nets.encoder_y.to(self.device).eval()
        self.attributes, self.alignment, self.image_size = list(attributes), alignment, int(image_size)
        self.info = info or {}

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "IcGANEditor":
        path = baseline_checkpoint_path(path)
        return cls.from_checkpoint(path, load_checkpoint(path, KIND), device)

    @classmethod
    def from_checkpoint(cls, path: Path, state: dict[str, Any], device: str | torch.device = "cpu") -> "IcGANEditor":
        """The editor of an IcGAN checkpoint already read by ``load_checkpoint``."""
        check_baseline_state(path, KIND, state)
        model = config_from_dict(IcGANModelConfig, state["config"]["model"], "model")
        attributes = state["attributes"]
        with building(path, KIND):
            nets = build_networks(len(attributes), state["image_size"], model)
            for name in ("generator", "encoder_z", "encoder_y"):
                load_module_state(getattr(nets, name), state["models"][name], name)
        info = checkpoint_info(state)
        return cls(nets, attributes, state["alignment"], state["image_size"], device, info)

    @classmethod
    def untrained(cls, attributes: list[str], alignment: str = "celebahq", image_size: int = 128,
                  conv_dim: int = 8, seed: int = 0) -> "IcGANEditor":
        torch.manual_seed(seed)
        attributes = resolve_attributes(attributes)
        model = IcGANModelConfig(z_dim=16, g_conv_dim=conv_dim, d_conv_dim=conv_dim, e_conv_dim=conv_dim, e_hidden=32)
        return cls(build_networks(len(attributes), image_size, model), attributes, alignment, image_size,
                   "cpu", {"kind": "untrained"})

    @torch.no_grad()
    def codes(self, faces: torch.Tensor) -> torch.Tensor:
        """P(attribute present) from E_y."""
        return torch.sigmoid(self.encoder_y(faces.to(self.device, torch.float32)).float())

    @torch.no_grad()
    def edit(self, faces: torch.Tensor, attributes: list[str], mode: str = "invert",
             strength: float = 1.0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Invert ``attributes`` of faces in [-1, 1] (B, 3, S, S): x' = G(E_z(x), y') with y' =
        E_y's binarised prediction, the chosen entries set to 1 - current (current from
        ``labels`` when given, else from E_y)."""
        strength = check_edit_args("IcGAN", mode, strength)
        x = faces.to(self.device, torch.float32)
        mask = attribute_mask(self.attributes, attributes, x.shape[0], self.device)
        z, p = encode(self.encoder_z, self.encoder_y, x)
        predicted = (p > 0.5).float()
        current = current_values(predicted, labels, len(self.attributes))
        target = torch.where(mask, 1.0 - current, predicted)
        out = self.generator(z, target).float()
        return x + strength * (out - x)
