"""Stage I trainer: attribute inversion with the bi-directional discriminator (SPEC §2)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch

from infoscrub.data.batches import to_uint8
from infoscrub.errors import InfoscrubError
from infoscrub.losses import (
    attribute_loss_d_fake,
    attribute_loss_d_real,
    attribute_loss_g,
    code_loss,
    content_hinge_loss,
    hinge_d_loss,
    hinge_g_loss,
    reconstruction_loss,
    utility_loss,
)
from infoscrub.losses.attribute import VARIANTS, heads_for
from infoscrub.models import Discriminator, DiscriminatorConfig, GeneratorConfig, UNetEditor, count_parameters
from infoscrub.sharing import Channel, reshare_channel, resolve_channels, straight_through
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.ema import ema_beta, update_ema
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training


@dataclass
class Stage1LossConfig:
    rec: float = 10.0  # l_rec, Eq. 6
    code: float = 1.0  # l_code, Eq. 7
    bi: float = 1.0  # l_bi, attribute losses of G and D (Eq. 3, 4, 9, 10)
    adv: float = 1.0  # l_adv, image realism (hinge), Eq. 11
    cont: float = 10.0  # l_cont, content hinge (Eq. 12)
    cycle: float = 5.0  # invert-back reconstruction, part of Eq. 12
    util: float = 1.0  # l_util, Eq. 13
    eps_cont: float = 0.05  # free mean-L1 change of an edit
    eps_s: float = 0.1  # utility margin for non-edited attributes (the Table 3 dial)
    eps_r: float = 0.0  # utility margin for the reconstruction
    # "Name:W" items: an edit of that attribute counts W times in the generator's attribute
    # loss (l_bi; every other attribute 1), e.g. Eyeglasses:2 for an attribute the held-out
    # adversary still reads through the edit
    bi_weights: list[str] = field(default_factory=list)


@dataclass
class Stage1Config:
    variant: str = "bidirectional"  # bidirectional | d_attr | d_attr_at (paper Table 2)
    extra_flip_prob: float = 0.1  # besides one random attribute, each other is flipped with p
    d_warmup_steps: int = 0  # fresh runs: steps training only D's attribute heads on real images first
    restart_d_steps: int = 50  # compact-state restarts: discriminator-only steps before G moves
    ema_half_life_images: int = 10_000  # G_ema forgets half its memory every this many images
    ema_rampup: float = 0.05  # ... or every ema_rampup * images seen, if shorter (early training)
    # Sharing channels (infoscrub.sharing) the generator's attribute loss sees its edits
    # through, one per step in turn, with a straight-through gradient: edits that survive
    # re-encoding and downscaling. Off by default; the channels run on the CPU (a host sync
    # per step), so a GPU round decides whether they pay.
    reshare: list[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: Stage1LossConfig = field(default_factory=Stage1LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


def sample_inversion_masks(labels: torch.Tensor, extra_prob: float, gen: torch.Generator) -> torch.Tensor:
    """Random non-empty subsets: one uniformly chosen attribute per sample, plus each other
    attribute with probability ``extra_prob`` (so multi-attribute inversion is learned)."""
    batch, n = labels.shape
    first = torch.randint(n, (batch,), generator=gen, device=labels.device)
    mask = torch.rand(batch, n, generator=gen, device=labels.device) < extra_prob
    mask[torch.arange(batch, device=labels.device), first] = True
    return mask.float()


def edit_code(code: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 8: a'_i = 1 - c_i where m_i = 1, a_i elsewhere."""
    return torch.where(mask.bool(), 1.0 - labels, code)


def pair(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b])


def attribute_weights(items: list[str], attributes: list[str]) -> list[float]:
    """``["Eyeglasses:2", ...]`` -> one weight per attribute of the run, in its order (1 where
    not named); a name the run does not train, a repeated one or a bad weight is an error."""
    weights = dict.fromkeys(attributes, 1.0)
    named: set[str] = set()
    for item in items:
        name, sep, raw = item.partition(":")
        name = name.strip()
        try:
            value = float(raw) if sep else float("nan")
        except ValueError:
            value = float("nan")
        if not value >= 0:
            raise InfoscrubError(f"loss.bi_weights: {item!r} is not NAME:WEIGHT with a weight of 0 or more")
        if name not in weights:
            raise InfoscrubError(f"loss.bi_weights: {name!r} is not one of the run's attributes "
                                 f"({', '.join(attributes)})")
        if name in named:
            raise InfoscrubError(f"loss.bi_weights names {name} twice")
        named.add(name)
        weights[name] = value
    return [weights[a] for a in attributes]


class Stage1Task:
    """One Stage I step = one discriminator update + one generator update.

    Work that shares inputs is batched: the reconstruction and the edit are one decode of
    the duplicated features (instance norm is per sample, so this is exact), and every
    discriminator pass judges two sets at once (real + fake for D, fake + reconstruction
    for G): one pass at 2B instead of two at B, with the same losses.
    """

    kind = "stage1"

    def __init__(self, cfg: Stage1Config, ctx: TrainContext, restarted: bool = False) -> None:
        if cfg.variant not in VARIANTS:
            raise ValueError(f"unknown variant {cfg.variant!r}")
        self.cfg, self.ctx = cfg, ctx
        resolve_channels(list(cfg.reshare))  # an unknown channel fails now, not at the first step
        n = len(ctx.attributes)
        self.bi_weights = torch.tensor(attribute_weights(cfg.loss.bi_weights, ctx.attributes), device=ctx.device)
        self.G = ctx.prepare(UNetEditor(n, cfg.generator))
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.D = ctx.prepare(Discriminator(n, heads_for(cfg.variant), ctx.image_size, cfg.discriminator))
        # Compile exactly what a step runs (a compiled module would cover only forward()).
        self.encode, self.decode = ctx.compiled(self.G.encode), ctx.compiled(self.G.decode)
        self.D_run = ctx.compiled(self.D)
        self.opt_g = make_adam(self.G.parameters(), cfg.optim.lr_g, cfg.optim)
        self.opt_d = make_adam(self.D.parameters(), cfg.optim.lr_d, cfg.optim)
        self.restart(restarted)

    def restart(self, restarted: bool) -> None:
        """Fresh runs may warm up D's heads on real images; a run that starts fresh
        optimisers on trained weights gives D a few full steps before G moves."""
        self.heads_only_steps = 0 if restarted else self.cfg.d_warmup_steps
        self.d_only_steps = self.cfg.restart_d_steps if restarted else 0

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "generator_ema": self.G_ema, "discriminator": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        return adam_schedule(self.optimizers(), self.cfg.optim, progress, images_since_restart)

    def _step(self, opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(net, self.ctx.dist)
        opt.step()

    # ---- losses (pure functions of the current weights; tested against the unbatched formulas)

    def generate(self, x: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor):
        """(encoder features, code a, reconstruction x_r, edit x') with one batched decode."""
        feats, code = self.encode(x)
        both = self.decode(pair(x, x), [None if f is None else pair(f, f) for f in feats],
                           pair(code, edit_code(code, labels, mask)))
        x_rec, x_fake = both.chunk(2)
        return feats, code, x_rec, x_fake

    def d_losses(self, x: torch.Tensor, x_fake: torch.Tensor, labels: torch.Tensor,
                 mask: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, cls = self.D_run(pair(x, x_fake))
        real_logits, fake_logits = logits.chunk(2)
        cls_real, cls_fake = cls.chunk(2)
        return {"d_adv": hinge_d_loss(real_logits, fake_logits),
                "d_cls_real": attribute_loss_d_real(cls_real, labels),
                "d_cls_fake": attribute_loss_d_fake(cls_fake, labels, mask, self.cfg.variant)}

    def g_losses(self, x: torch.Tensor, x_rec: torch.Tensor, x_fake: torch.Tensor, code: torch.Tensor,
                 labels: torch.Tensor, mask: torch.Tensor, channel: Channel | None = None) -> dict[str, torch.Tensor]:
        w = self.cfg.loss
        logits, cls = self.D_run(pair(x_fake, x_rec))
        fake_logits = logits[: len(x)]
        cls_fake, cls_rec = cls.chunk(2)
        cls_judged = cls_fake
        if channel is not None:  # the attribute heads judge the edit as it is after sharing
            _, cls_judged = self.D_run(straight_through(channel, x_fake))
        feats_fake, code_fake = self.encode(x_fake)
        x_cycle = self.decode(x_fake, feats_fake, edit_code(code_fake, 1.0 - labels, mask))
        return {
            "g_rec": reconstruction_loss(x, x_rec),
            "g_code": code_loss(code, labels),
            "g_bi": attribute_loss_g(cls_judged, labels, mask, self.cfg.variant, self.bi_weights),
            "g_adv": hinge_g_loss(fake_logits),
            "g_cont": content_hinge_loss(x_fake, x, w.eps_cont),
            "g_cycle": reconstruction_loss(x, x_cycle),
            "g_util": utility_loss(cls_fake, cls_rec, labels, mask, w.eps_s, w.eps_r),
        }

    def d_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.cfg.loss
        return w.adv * losses["d_adv"] + w.bi * (losses["d_cls_real"] + losses["d_cls_fake"])

    def g_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.cfg.loss
        return (w.rec * losses["g_rec"] + w.code * losses["g_code"] + w.bi * losses["g_bi"]
                + w.adv * losses["g_adv"] + w.cont * losses["g_cont"]
                + w.cycle * losses["g_cycle"] + w.util * losses["g_util"])

    # ---- the step

    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if step < self.heads_only_steps:
            with self.ctx.autocast():
                _, cls_real = self.D_run(x)
                loss = attribute_loss_d_real(cls_real, labels)
            self._step(self.opt_d, self.D, loss)
            return {"d_cls_real": loss.detach()}

        mask = sample_inversion_masks(labels, cfg.extra_flip_prob, gen)
        d_only = step < self.d_only_steps
        with self.ctx.autocast(), torch.set_grad_enabled(not d_only):
            feats, code, x_rec, x_fake = self.generate(x, labels, mask)
        with self.ctx.autocast():
            d_parts = self.d_losses(x, x_fake.detach(), labels, mask)
            d_loss = self.d_total(d_parts)
        self._step(self.opt_d, self.D, d_loss)
        out = {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in d_parts.items()},
               "edit_l1": (x_fake.detach().float() - x.float()).abs().mean()}
        if d_only:
            return out

        self.D.requires_grad_(False)
        with self.ctx.autocast():
            g_parts = self.g_losses(x, x_rec, x_fake, code, labels, mask, reshare_channel(cfg.reshare, step))
            g_loss = self.g_total(g_parts)
        self._step(self.opt_g, self.G, g_loss)
        self.D.requires_grad_(True)
        batch = len(x) * self.ctx.dist.world_size
        update_ema(self.G_ema, self.G, ema_beta(batch, self.ctx.images_seen + batch,
                                                cfg.ema_half_life_images, cfg.ema_rampup))
        return {**out, "g_loss": g_loss.detach(), **{k: v.detach() for k, v in g_parts.items()}}

    @torch.no_grad()
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return inversion_grid(self.G_ema, x, labels)


@torch.no_grad()
def inversion_grid(generator: UNetEditor, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Rows: samples; columns: input | reconstruction | each single-attribute inversion."""
    from torchvision.utils import make_grid

    was_training = generator.training
    generator.eval()
    x = x.to(next(generator.parameters()).device)
    labels = labels.to(x.device)
    feats, code = generator.encode(x)
    columns = [x, generator.decode(x, feats, code)]
    for i in range(labels.shape[1]):
        mask = torch.zeros_like(labels)
        mask[:, i] = 1
        columns.append(generator.decode(x, feats, edit_code(code, labels, mask)))
    generator.train(was_training)
    tiles = torch.stack(columns, 1).flatten(0, 1)  # row-major: sample by sample
    return to_uint8(make_grid(tiles.float(), nrow=len(columns), padding=2, pad_value=1.0))


def train_stage1(cfg: Stage1Config, out: Path, resume: bool = False) -> dict[str, float]:
    ctx, data = prepare_training(cfg.run, cfg.data)
    task = Stage1Task(cfg, ctx)
    if ctx.dist.is_main:
        print(f"stage1 ({cfg.variant}): {len(data)} images, {len(ctx.attributes)} attributes, "
              f"G {count_parameters(task.G) / 1e6:.1f}M / D {count_parameters(task.D) / 1e6:.1f}M parameters, "
              f"device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    return fit(task, ctx, data, cfg, out, resume)
