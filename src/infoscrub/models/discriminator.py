"""Discriminator: one spectral-norm PatchGAN trunk (StarGAN style) with a realism head and
H attribute-classifier heads (H = 2: C_pn and C_np for the bi-directional method)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass
class DiscriminatorConfig:
    width: int = 64
    max_channels: int = 384  # 7.0M parameters: fp16 fits one file under 16 MiB (a device transfer)
    layers: int = 6  # stride-2 convolutions: 128 -> 2


class Discriminator(nn.Module):
    def __init__(self, num_attributes: int, heads: int, image_size: int = 128,
                 cfg: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.num_attributes, self.heads = num_attributes, heads
        final = image_size // 2**cfg.layers
        if final < 1 or final * 2**cfg.layers != image_size:
            raise ValueError(f"image size {image_size} is not divisible by 2**{cfg.layers}")
        layers, cin = [], 3
        for i in range(cfg.layers):
            cout = min(cfg.width * 2**i, cfg.max_channels)
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.01, inplace=True)]
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.realism = spectral_norm(nn.Conv2d(cin, 1, 3, 1, 1))
        self.classify = spectral_norm(nn.Conv2d(cin, heads * num_attributes, final))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(realism logits (B, 1, h, w), attribute logits (B, heads, n)), both float32."""
        h = self.trunk(x)
        # The heads run in fp32 under autocast: they are cheap, and oneDNN's bf16 conv with a
        # 1x1 output (the attribute head) has returned wrong values (pytorch #163347).
        with torch.autocast(x.device.type, enabled=False):
            h = h.float()
            cls = self.classify(h).reshape(x.shape[0], self.heads, self.num_attributes)
            return self.realism(h), cls
