"""The official StarGAN training iteration on a fixed random batch: the reference that
``benchmarks/train_step.py`` times our step against (SPEC §6). Benchmark code, kept out of
the package; ``tests/test_baselines.py`` checks that it still runs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.baselines.stargan import StarGANModelConfig
from infoscrub.baselines.stargan_training import StarGANConfig, StarGANTask
from infoscrub.training.config import RunConfig
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext


@dataclass
class StarGANStep:
    """One StarGAN training iteration on a fixed random batch, for timing (SPEC §6)."""

    task: StarGANTask
    x: torch.Tensor
    labels: torch.Tensor
    gen: torch.Generator

    def __call__(self, with_g: bool = True) -> dict[str, torch.Tensor]:
        """A D step, plus the G step when ``with_g`` (the official loop does that every
        n_critic-th iteration; average over n_critic calls for its mean iteration cost)."""
        step = self.task.cfg.n_critic - 1 if with_g else 0
        return self.task.train_step(self.x, self.labels, step, self.gen)


def stargan_step_components(device: str | torch.device = "cuda", batch_size: int = 16,
                            attributes: list[str] | None = None, image_size: int = 128,
                            conv_dim: int = 64, bf16: bool = False, channels_last: bool = False,
                            compile: bool = False, seed: int = 0) -> StarGANStep:
    """Official StarGAN networks, optimisers and losses on ``device`` with a random batch;
    call the result to run one iteration. Defaults: five attributes (the release's CelebA
    set), fp32, batch 16 (the release's), no channels_last: the SPEC §6 reference setting."""
    device = torch.device(device)
    attributes = resolve_attributes(attributes or ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"])
    cfg = StarGANConfig(model=StarGANModelConfig(g_conv_dim=conv_dim, d_conv_dim=conv_dim),
                        run=RunConfig(steps=1, batch_size=batch_size, seed=seed, device=str(device), bf16=bf16,
                                      channels_last=channels_last, compile=compile, progress=False))
    torch.manual_seed(seed)
    ctx = TrainContext(device, DistInfo(), cfg.run, attributes, "celebahq", image_size)
    task = StarGANTask(cfg, ctx)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    x = torch.rand(batch_size, 3, image_size, image_size, generator=gen, device=device) * 2 - 1
    labels = (torch.rand(batch_size, len(attributes), generator=gen, device=device) < 0.5).float()
    return StarGANStep(task, x, labels, gen)
