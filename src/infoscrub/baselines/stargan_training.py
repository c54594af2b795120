"""Training StarGAN (Choi et al., CVPR 2018), the official ``solver.py`` recipe.

Training (official ``solver.py``): WGAN-GP (lambda_gp 10), attribute classification loss
lambda_cls 1 (BCE summed over attributes, averaged over the batch), cycle reconstruction
lambda_rec 10; target labels = the batch's labels in a random order; n_critic 5 (every
step is a D step; every 5th step is also a G step); Adam(0.5, 0.999), lr 1e-4 for both,
linear decay over the second half. Defaults: 200K steps at batch 16, the release's.

Logging: G losses exist only on G steps; the log averages each loss over the steps that
report it, so a log line shows the mean over its G steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from infoscrub.baselines.stargan import KIND, StarGANModelConfig, build_networks
from infoscrub.data.batches import to_uint8
from infoscrub.models import count_parameters
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training


# --------------------------------------------------------------------------------------
# Losses


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     gen: torch.Generator | None = None, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017) as in StarGAN: mean over the batch of
    (||d D_src(x_hat) / d x_hat||_2 - 1)^2 at x_hat = alpha * real + (1 - alpha) * fake, with
    alpha ~ U[0, 1) per sample (or given, shape (B, 1, 1, 1)). ``D`` may return a tuple; its
    first element is the realism output. The graph is kept (create_graph) for backward."""
    if alpha is None:
        alpha = torch.rand(real.size(0), 1, 1, 1, generator=gen, device=real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = D(x_hat)
    if isinstance(out, (tuple, list)):
        out = out[0]
    (grad,) = torch.autograd.grad(outputs=out, inputs=x_hat, grad_outputs=torch.ones_like(out),
                                  create_graph=True, retain_graph=True)
    norm = grad.float().flatten(1).pow(2).sum(1).sqrt()
    return (norm - 1).pow(2).mean()


def classification_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Official CelebA classification loss: BCE summed over attributes, mean over the batch."""
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="sum") / logits.size(0)


# --------------------------------------------------------------------------------------
# Config and trainer


@dataclass
class StarGANLossConfig:
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0


@dataclass
class StarGANConfig:
    n_critic: int = 5  # one G update every n_critic steps (every step updates D)
    data: DataConfig = field(default_factory=DataConfig)
    model: StarGANModelConfig = field(default_factory=StarGANModelConfig)
    loss: StarGANLossConfig = field(default_factory=StarGANLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr_g=1e-4, lr_d=1e-4, schedule="linear", decay_start=0.5))
    run: RunConfig = field(default_factory=lambda: RunConfig(steps=200_000, batch_size=16))


class StarGANTask:
    kind = KIND

    def __init__(self, cfg: StarGANConfig, ctx: TrainContext) -> None:
        if cfg.n_critic < 1:
            raise ValueError("n_critic must be at least 1")
        self.cfg, self.ctx = cfg, ctx
        G, D = build_networks(len(ctx.attributes), ctx.image_size, cfg.model)
        self.G, self.D = ctx.prepare(G), ctx.prepare(D)
        # The gradient penalty needs double backward, which torch.compile does not support:
        # it always runs through the plain D.
        self.G_run, self.D_run = ctx.compiled(self.G), ctx.compiled(self.D)
        self.opt_g = make_adam(self.G.parameters(), cfg.optim.lr_g, cfg.optim)
        self.opt_d = make_adam(self.D.parameters(), cfg.optim.lr_d, cfg.optim)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def is_g_step(self, step: int) -> bool:
        return (step + 1) % self.cfg.n_critic == 0  # official: if (i+1) % n_critic == 0

    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        return adam_schedule(self.optimizers(), self.cfg.optim, progress, images_since_restart)

    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
        w = self.cfg.loss
        c_org = labels
        c_trg = labels[torch.randperm(labels.size(0), generator=gen, device=labels.device)]

        # Discriminator: WGAN-GP + classification of real images.
        with self.ctx.autocast():
            out_src, out_cls = self.D_run(x)
            d_loss_real = -out_src.float().mean()
            d_loss_cls = classification_loss(out_cls, c_org)
            with torch.no_grad():
                x_fake = self.G_run(x, c_trg)
            out_src_fake, _ = self.D_run(x_fake)
            d_loss_fake = out_src_fake.float().mean()
            d_loss_gp = gradient_penalty(self.D, x, x_fake, gen)
            d_loss = d_loss_real + d_loss_fake + w.lambda_cls * d_loss_cls + w.lambda_gp * d_loss_gp
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        average_gradients(self.D, self.ctx.dist)
        self.opt_d.step()
        out = {"d_loss": d_loss.detach(), "d_loss_real": d_loss_real.detach(),
               "d_loss_fake": d_loss_fake.detach(), "d_loss_cls": d_loss_cls.detach(),
               "d_loss_gp": d_loss_gp.detach()}

        if not self.is_g_step(step):
            return out

        # Generator: fool D, be classified as c_trg, translate back to the input.
        self.D.requires_grad_(False)
        with self.ctx.autocast():
            x_fake = self.G_run(x, c_trg)
            out_src, out_cls = self.D_run(x_fake)
            g_loss_fake = -out_src.float().mean()
            g_loss_cls = classification_loss(out_cls, c_trg)
            x_rec = self.G_run(x_fake, c_org)
            g_loss_rec = (x.float() - x_rec.float()).abs().mean()
            g_loss = g_loss_fake + w.lambda_rec * g_loss_rec + w.lambda_cls * g_loss_cls
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        average_gradients(self.G, self.ctx.dist)
        self.opt_g.step()
        self.D.requires_grad_(True)
        return {**out, "g_loss": g_loss.detach(), "g_loss_fake": g_loss_fake.detach(),
                "g_loss_rec": g_loss_rec.detach(), "g_loss_cls": g_loss_cls.detach()}

    @torch.no_grad()
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Rows: samples; columns: input | each single-attribute flip (labels -> 1 - label)."""
        from torchvision.utils import make_grid

        device = next(self.G.parameters()).device
        x, labels = x.to(device), labels.to(device)
        columns = [x]
        for i in range(labels.shape[1]):  # G stays in train mode: per-image instance norm
            c = labels.clone()
            c[:, i] = 1 - c[:, i]
            columns.append(self.G(x, c).float())
        tiles = torch.stack(columns, 1).flatten(0, 1)
        return to_uint8(make_grid(tiles.float(), nrow=len(columns), padding=2, pad_value=1.0))


def train_stargan(cfg: StarGANConfig, out: Path, resume: bool = False) -> dict[str, float]:
    ctx, data = prepare_training(cfg.run, cfg.data)
    task = StarGANTask(cfg, ctx)
    if ctx.dist.is_main:
        print(f"stargan: {len(data)} images, {len(ctx.attributes)} attributes, "
              f"G {count_parameters(task.G) / 1e6:.1f}M / D {count_parameters(task.D) / 1e6:.1f}M parameters, "
              f"n_critic {cfg.n_critic}, device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    return fit(task, ctx, data, cfg, out, resume)


