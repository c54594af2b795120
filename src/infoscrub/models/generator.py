"""Stage I generator: U-Net encoder-decoder with a sensitive code and a residual output.

E(x) = (z, a): z are the encoder's feature maps (bottleneck + skips), a in R^n one entry
per attribute, pooled from the bottleneck. Dec(z, a') predicts a residual and
G(x, a') = clamp(x + Dec(z, a'), -1, 1) (SPEC section 2, Eq. 2). The code is tiled over
the deepest ``code_levels`` decoder levels, where global attributes are decided.

``skips`` is the number of U-Net skip connections, deepest first (AttGAN's "shortcut
layers"): more skips reconstruct finer detail but let the decoder copy the input and edit
less. With the residual output the input's detail survives even with few skips, and each
skip dropped at a fine level saves the most compute (its fusion convolution runs at the
highest resolution).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GeneratorConfig:
    # Sizes chosen by cost (README, "Model size and defaults"): a Stage I step at width 48 /
    # 224 channels / 1 skip costs 58 GFLOP per image, 0.36x the 162 of width 64 / 512 / 4
    # skips, and G_ema + mixer fit one fp16 file well under the 16 MiB of a device transfer.
    width: int = 48  # channels at full resolution; doubles per level up to max_channels
    max_channels: int = 224
    depth: int = 4  # number of 2x downsamplings (128 -> 8 at depth 4)
    code_levels: int = 2  # decoder levels, deepest first, that receive the code
    skips: int = 1  # U-Net skip connections, deepest decoder level first (0..depth)
    identity_init: bool = True  # zero the residual head so G starts as the identity


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


class ConvBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        kernel = 4 if stride == 2 else 3
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, 1, bias=False), _norm(cout),
                         nn.LeakyReLU(0.2, inplace=True))


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _norm(channels), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpBlock(nn.Module):
    """Upsample, then fuse with the skip (and the tiled code, where this level takes it)."""

    def __init__(self, cin: int, cskip: int, cout: int, code_dim: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), _norm(cout),
                                nn.LeakyReLU(0.2, inplace=True))
        self.fuse = ConvBlock(cout + cskip + code_dim, cout)
        self.cskip, self.code_dim = cskip, code_dim

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, code: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        parts = [x, skip] if self.cskip else [x]
        if self.code_dim:
            parts.append(tile(code, x))
        return self.fuse(torch.cat(parts, 1))


def tile(code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return code.to(like.dtype)[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


class UNetEditor(nn.Module):
    def __init__(self, num_attributes: int, cfg: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        if not 1 <= cfg.code_levels <= cfg.depth + 1:
            raise ValueError("code_levels must be between 1 and depth + 1")
        if not 0 <= cfg.skips <= cfg.depth:
            raise ValueError("skips must be between 0 and depth")
        self.num_attributes, self.cfg = num_attributes, cfg
        chans = [min(cfg.width * 2**i, cfg.max_channels) for i in range(cfg.depth + 1)]
        self.stem = ConvBlock(3, chans[0])
        self.down = nn.ModuleList(ConvBlock(chans[i], chans[i + 1], stride=2) for i in range(cfg.depth))
        bottleneck = chans[-1]
        self.code_head = nn.Linear(bottleneck, num_attributes)
        # The bottleneck always takes the code; code_levels - 1 more levels above it do too.
        self.mid = nn.Sequential(ConvBlock(bottleneck + num_attributes, bottleneck), ResBlock(bottleneck))
        self.up = nn.ModuleList()
        for level in range(cfg.depth, 0, -1):  # from the deepest level up
            rank = cfg.depth - level + 1  # 1 for the deepest decoder level
            takes_code = rank < cfg.code_levels
            has_skip = rank <= cfg.skips
            self.up.append(UpBlock(chans[level], chans[level - 1] if has_skip else 0, chans[level - 1],
                                   num_attributes if takes_code else 0))
        self.to_residual = nn.Conv2d(chans[0], 3, 3, 1, 1)
        # Start as the identity (zero residual): reconstruction is right from step 0 and
        # the adversarial terms only have to learn the edit.
        if cfg.identity_init:
            nn.init.zeros_(self.to_residual.weight)
            nn.init.zeros_(self.to_residual.bias)

    def encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor | None], torch.Tensor]:
        """(feature maps from full resolution to the bottleneck, sensitive code a).

        Levels the decoder takes no skip from are None: nothing holds on to them."""
        h = self.stem(x)
        feats: list[torch.Tensor | None] = []
        for level, block in enumerate(self.down):
            feats.append(h if self.depth - level <= self.cfg.skips else None)
            h = block(h)
        feats.append(h)
        code = self.code_head(h.float().mean((2, 3)))
        return feats, code.float()

    @property
    def depth(self) -> int:
        return self.cfg.depth

    def decode(self, x: torch.Tensor, feats: list[torch.Tensor | None], code: torch.Tensor) -> torch.Tensor:
        """G(x, a') = clamp(x + Dec(z, a'), -1, 1)."""
        h = self.mid(torch.cat([feats[-1], tile(code, feats[-1])], 1))
        for block, skip in zip(self.up, reversed(feats[:-1])):
            h = block(h, skip, code)
        return (x + self.to_residual(h).to(x.dtype)).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode with ``code`` (the encoder's own code when None); returns (image, a)."""
        feats, a = self.encode(x)
        return self.decode(x, feats, a if code is None else code), a
