"""Training batches drawn from a device-resident uint8 image tensor.

The order is a pure function of (seed, rank, step): batch ``s`` comes from the permutation
of epoch ``s // steps_per_epoch``, and the flips from a generator seeded by the step. So a
resumed run sees exactly the batches an uninterrupted run would, with no loader state to
save, and nothing here syncs with the host.
"""

from __future__ import annotations

import torch


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (rounded)."""
    return images.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


def seeded_generator(device: torch.device, *keys: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    seed = 0
    for key in keys:  # a simple, stable mix of the keys into one 63-bit seed
        seed = (seed * 1_000_003 + int(key) + 0x9E3779B9) % (2**63 - 1)
    gen.manual_seed(seed)
    return gen


class DeviceBatches:
    """Random batches (images in [-1, 1], float labels) with on-device horizontal flips."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, hflip: bool = True) -> None:
        if images.dtype != torch.uint8:
            raise TypeError("DeviceBatches expects uint8 images")
        # Each rank owns a disjoint, fixed shard of the data (DistributedSampler style).
        self.images = images[rank::world_size]
        self.labels = labels[rank::world_size]
        self.batch_size = batch_size
        self.seed, self.rank = seed, rank
        self.hflip = hflip
        self.steps_per_epoch = len(self.images) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(self.images)} images per process cannot fill a batch of {batch_size}")
        self._epoch, self._perm = -1, None

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        device = self.images.device
        if epoch != self._epoch:
            gen = seeded_generator(device, self.seed, self.rank, epoch, 1)
            self._perm = torch.randperm(len(self.images), generator=gen, device=device)
            self._epoch = epoch
        idx = self._perm[pos * self.batch_size:(pos + 1) * self.batch_size]
        x = to_model_range(self.images[idx])
        if self.hflip:
            gen = seeded_generator(device, self.seed, self.rank, step, 2)
            flip = torch.rand(len(idx), generator=gen, device=device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x, self.labels[idx]
