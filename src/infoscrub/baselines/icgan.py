"""IcGAN (Perarnau et al., "Invertible Conditional GANs for image editing", 2016) as a baseline.

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

Editing: the chosen entries of y become 1 - current, where current is [sigmoid(E_y(x)) >
0.5] (label-free path) or the labels (labelled path); the other entries are E_y's binarised
prediction (G was trained on binary y). IcGAN does not obfuscate.
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
from infoscrub.editing import EditsOneByOne
from infoscrub.data.batches import to_uint8
from infoscrub.models import count_parameters
from infoscrub.storage.checkpoints import checkpoint_info, load_module_state
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training

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
class IcGANConfig:
    gan_fraction: float = 0.6  # steps [0, K) train the cGAN, [K, end) the encoders; K = round(f * steps)
    data: DataConfig = field(default_factory=DataConfig)
    model: IcGANModelConfig = field(default_factory=IcGANModelConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr_g=2e-4, lr_d=2e-4))
    run: RunConfig = field(default_factory=lambda: RunConfig(steps=100_000, batch_size=64))


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
def encode(Ez: IcGANEncoder, Ey: IcGANEncoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, P(attribute present))."""
    return Ez(x).float(), torch.sigmoid(Ey(x).float())


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
        state = read_baseline_checkpoint(path, KIND)
        model = config_from_dict(IcGANModelConfig, state["config"]["model"], "model")
        attributes = state["attributes"]
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
