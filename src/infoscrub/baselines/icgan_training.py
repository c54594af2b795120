"""Training IcGAN (Perarnau et al. 2016): the cGAN, then both encoders.

Losses: standard (non-saturating) cGAN losses with one G update per D update; the
generated samples' conditions y are the batch's real label vectors in a random order (so
y follows the data's joint attribute distribution); E_z: ||z - E_z(G(z, y))||^2 on
generated samples with known z; E_y: ||y - sigmoid(E_y(x))||^2 on real images with their
labels (both squared errors, as in the paper). Adam(0.5, 0.999), lr 2e-4, constant
(DCGAN's setting: ``optim.schedule`` constant, no decay).

Training is staged within one run by step ranges: steps [0, K) train the cGAN; steps
[K, run.steps) train both encoders with G frozen (in eval mode), K = round(gan_fraction *
run.steps). The original trains them one after the other too (the encoders on a fixed set
of generated images); here E_z sees freshly generated samples every step, an unbounded
version of that set. Because K follows run.steps, resume a run with the same --steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from infoscrub.baselines.icgan import KIND, IcGANModelConfig, build_networks, encode
from infoscrub.data.batches import to_uint8
from infoscrub.models import count_parameters
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training


@dataclass
class IcGANConfig:
    gan_fraction: float = 0.6  # steps [0, K) train the cGAN, [K, end) the encoders; K = round(f * steps)
    data: DataConfig = field(default_factory=DataConfig)
    model: IcGANModelConfig = field(default_factory=IcGANModelConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr_g=2e-4, lr_d=2e-4))
    run: RunConfig = field(default_factory=lambda: RunConfig(steps=100_000, batch_size=64))


def gan_steps(cfg: IcGANConfig) -> int:
    return int(round(cfg.gan_fraction * cfg.run.steps))


class IcGANTask:
    kind = KIND

    def __init__(self, cfg: IcGANConfig, ctx: TrainContext) -> None:
        if not 0.0 <= cfg.gan_fraction <= 1.0:
            raise ValueError("gan_fraction must be in [0, 1]")
        self.cfg, self.ctx = cfg, ctx
        nets = build_networks(len(ctx.attributes), ctx.image_size, cfg.model)
        self.G, self.D = ctx.prepare(nets.generator), ctx.prepare(nets.discriminator)
        self.Ez, self.Ey = ctx.prepare(nets.encoder_z), ctx.prepare(nets.encoder_y)
        self.G_run, self.D_run = ctx.compiled(self.G), ctx.compiled(self.D)
        self.Ez_run, self.Ey_run = ctx.compiled(self.Ez), ctx.compiled(self.Ey)
        o = cfg.optim
        self.opt_g, self.opt_d = make_adam(self.G.parameters(), o.lr_g, o), make_adam(self.D.parameters(), o.lr_d, o)
        self.opt_ez, self.opt_ey = make_adam(self.Ez.parameters(), o.lr_g, o), make_adam(self.Ey.parameters(), o.lr_g, o)
        self.gan_steps = gan_steps(cfg)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.G, "discriminator": self.D, "encoder_z": self.Ez, "encoder_y": self.Ey}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d, "encoder_z": self.opt_ez,
                "encoder_y": self.opt_ey}

    def _update(self, loss: torch.Tensor, module: nn.Module, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(module, self.ctx.dist)
        opt.step()

    def _noise(self, batch: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.randn(batch, self.cfg.model.z_dim, generator=gen, device=device)

    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        return adam_schedule(self.optimizers(), self.cfg.optim, progress, images_since_restart)

    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
        batch = x.size(0)
        z = self._noise(batch, gen, x.device)
        y_fake = labels[torch.randperm(batch, generator=gen, device=labels.device)]
        if step < self.gan_steps:
            return self._gan_step(x, labels, z, y_fake)
        return self._encoder_step(x, labels, z, y_fake)

    def _gan_step(self, x, labels, z, y_fake) -> dict[str, torch.Tensor]:
        self.G.train()
        with self.ctx.autocast():
            x_fake = self.G_run(z, y_fake)
            real = self.D_run(x, labels).float()
            fake = self.D_run(x_fake.detach(), y_fake).float()
            d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self._update(d_loss, self.D, self.opt_d)
        self.D.requires_grad_(False)
        with self.ctx.autocast():
            out = self.D_run(x_fake, y_fake).float()
            g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        self._update(g_loss, self.G, self.opt_g)
        self.D.requires_grad_(True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real.detach()).mean(), "d_fake": torch.sigmoid(fake.detach()).mean()}

    def _encoder_step(self, x, labels, z, y_fake) -> dict[str, torch.Tensor]:
        self.G.eval()  # frozen: the decoder the editor uses (BatchNorm running statistics)
        with self.ctx.autocast():
            with torch.no_grad():
                x_gen = self.G_run(z, y_fake)
            ez_loss = (self.Ez_run(x_gen).float() - z).pow(2).mean()
        self._update(ez_loss, self.Ez, self.opt_ez)
        with self.ctx.autocast():
            y_logits = self.Ey_run(x).float()
            ey_loss = (torch.sigmoid(y_logits) - labels).pow(2).mean()
        self._update(ey_loss, self.Ey, self.opt_ey)
        ey_acc = ((y_logits.detach() > 0).float() == labels).float().mean()
        return {"ez_loss": ez_loss.detach(), "ey_loss": ey_loss.detach(), "ey_acc": ey_acc}

    @torch.no_grad()
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Rows: samples; columns: input | reconstruction G(E_z(x), E_y(x)) | each flip."""
        modes = [m.training for m in (self.G, self.Ez, self.Ey)]
        for m in (self.G, self.Ez, self.Ey):
            m.eval()
        grid = inversion_grid(self.G, self.Ez, self.Ey, x, labels)
        for m, mode in zip((self.G, self.Ez, self.Ey), modes):
            m.train(mode)
        return grid


@torch.no_grad()
def inversion_grid(G, Ez, Ey, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    from torchvision.utils import make_grid

    device = next(G.parameters()).device
    x, labels = x.to(device), labels.to(device)
    z, p = encode(Ez, Ey, x)
    y = (p > 0.5).float()
    columns = [x, G(z, y).float()]
    for i in range(labels.shape[1]):
        c = y.clone()
        c[:, i] = 1 - labels[:, i]
        columns.append(G(z, c).float())
    tiles = torch.stack(columns, 1).flatten(0, 1)
    return to_uint8(make_grid(tiles, nrow=len(columns), padding=2, pad_value=1.0))


def train_icgan(cfg: IcGANConfig, out: Path, resume: bool = False) -> dict[str, float]:
    ctx, data = prepare_training(cfg.run, cfg.data)
    task = IcGANTask(cfg, ctx)
    if ctx.dist.is_main:
        sizes = " / ".join(f"{name} {count_parameters(m) / 1e6:.1f}M" for name, m in task.networks().items())
        print(f"icgan: {len(data)} images, {len(ctx.attributes)} attributes, {sizes} parameters; "
              f"cGAN steps [0, {task.gan_steps}), encoder steps [{task.gan_steps}, {cfg.run.steps}); "
              f"device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    return fit(task, ctx, data, cfg, out, resume)


