"""StarGAN (Choi et al., CVPR 2018) as a baseline, faithful to the official 128x128 release.

Networks (official ``model.py``):

- Generator: the condition vector c (B, n) is tiled to (B, n, H, W) and concatenated to the
  image; conv 7x7 -> 2 stride-2 convs 4x4 -> 6 residual blocks -> 2 transposed convs 4x4
  -> conv 7x7 -> tanh. Every conv without bias, each followed by
  ``InstanceNorm2d(affine=True, track_running_stats=True)`` and ReLU.
- Discriminator (PatchGAN): 6 stride-2 convs 4x4 with LeakyReLU(0.01) (conv_dim doubling
  up to 2048 at 2x2), then ``conv1`` 3x3 -> 1 channel (real/fake per patch) and ``conv2``
  with kernel image_size / 64 -> n logits (the auxiliary attribute classifier).
  At conv_dim 64 and five attributes: G 8,430,528 and D 44,762,048 parameters.

Training (official ``solver.py``): WGAN-GP (lambda_gp 10), attribute classification loss
lambda_cls 1 (BCE summed over attributes, averaged over the batch), cycle reconstruction
lambda_rec 10; target labels = the batch's labels in a random order; n_critic 5 (every
step is a D step; every 5th step is also a G step); Adam(0.5, 0.999), lr 1e-4 for both,
linear decay over the second half. Defaults: 200K steps at batch 16, the release's.

Inference: the official ``test()`` never calls ``eval()``, so instance norm normalises each
image with its own statistics; ``StarGANEditor`` does the same (running stats unused).
Inverting attribute i sets c_i = 1 - current_i and keeps the other entries at their current
values; the current values come from the labels when given (labelled evaluation path) or
from the discriminator's auxiliary classifier (label-free path, as a photo would take).
StarGAN has no notion of obfuscation: ``edit(mode='obfuscate')`` is an error.

Logging: G losses exist only on G steps; the log averages each loss over the steps that
report it, so a log line shows the mean over its G steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infoscrub.attributes import resolve_attributes
from infoscrub.baselines.common import check_edit_args, current_values, read_baseline_checkpoint
from infoscrub.inference import attribute_mask
from infoscrub.config import config_from_dict
from infoscrub.data.batches import to_uint8
from infoscrub.editing import EditsOneByOne
from infoscrub.errors import InfoscrubError
from infoscrub.models import count_parameters
from infoscrub.storage.checkpoints import checkpoint_info, load_module_state
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training

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
class StarGANModelConfig:
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat_num: int = 6  # residual blocks in G
    d_repeat_num: int = 6  # stride-2 convs in D


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


def build_networks(n: int, image_size: int, model: StarGANModelConfig) -> tuple[StarGANGenerator, StarGANDiscriminator]:
    return (StarGANGenerator(n, model.g_conv_dim, model.g_repeat_num),
            StarGANDiscriminator(n, image_size, model.d_conv_dim, model.d_repeat_num))


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
        state = read_baseline_checkpoint(path, KIND)
        model = config_from_dict(StarGANModelConfig, state["config"]["model"], "model")
        attributes = state["attributes"]
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
