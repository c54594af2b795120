"""Stage II mixing network M (paper §3.4, Eq. 14-15).

alpha = M(x, x', a, a') in [0, 1]^{1 x H x W}; x_obf = alpha * x + (1 - alpha) * x'.
Five residual blocks, then a 1x1 convolution and a sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from infoscrub.models.generator import ConvBlock, ResBlock, tile


@dataclass
class MixerConfig:
    width: int = 32  # runs at full resolution: at 64 it cost more than the whole generator
    blocks: int = 5


class ObfuscationMixer(nn.Module):
    def __init__(self, num_attributes: int, cfg: MixerConfig = MixerConfig()) -> None:
        super().__init__()
        self.num_attributes, self.cfg = num_attributes, cfg
        self.stem = ConvBlock(6 + 2 * num_attributes, cfg.width)
        self.body = nn.Sequential(*(ResBlock(cfg.width) for _ in range(cfg.blocks)))
        self.to_alpha = nn.Conv2d(cfg.width, 1, 1)

    def forward(self, x: torch.Tensor, x_edit: torch.Tensor, code: torch.Tensor,
                code_edit: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, x_edit, tile(code, x), tile(code_edit, x)], 1)
        return torch.sigmoid(self.to_alpha(self.body(self.stem(h))).float())


def mix(x: torch.Tensor, x_edit: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 14: per-pixel convex combination of the input and its inversion."""
    return alpha * x + (1.0 - alpha) * x_edit
