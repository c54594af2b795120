"""Stage II trainer: the obfuscation mixer on a frozen Stage I model (SPEC §3, paper §3.4).

x' = G(x, a') with the frozen Stage I generator, alpha = M(x, x', a, a'),
x_obf = alpha * x + (1 - alpha) * x' (Eq. 14-15). Only M learns, from the frozen Stage I
discriminator: the image realism hinge on x_obf plus the max-entropy loss (Eq. 16), which
asks both attribute heads for ``target`` (0.5: one bit of entropy) on the obfuscated
attributes and for the true label on the others.

The checkpoint (kind 'stage2') is self-contained: it holds the frozen generator and
discriminator next to the mixer, and its config has the Stage I ``generator``,
``discriminator`` and ``variant`` settings copied in, so ``Editor.load`` needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from infoscrub.config import config_from_dict
from infoscrub.data.batches import to_uint8
from infoscrub.errors import InfoscrubError
from infoscrub.losses import hinge_g_loss, max_entropy_loss
from infoscrub.losses.attribute import VARIANTS, heads_for
from infoscrub.models import (
    Discriminator,
    DiscriminatorConfig,
    GeneratorConfig,
    MixerConfig,
    ObfuscationMixer,
    UNetEditor,
    count_parameters,
    mix,
)
from infoscrub.storage.checkpoints import load_checkpoint, load_module_state
from infoscrub.sharing import reshare_channel, resolve_channels, straight_through
from infoscrub.training.config import DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, adam_schedule, fit, make_adam, prepare_training
from infoscrub.training.stage1 import edit_code, sample_inversion_masks


@dataclass
class Stage2LossConfig:
    adv: float = 1.0  # image realism of x_obf (hinge, frozen D_img)
    entropy: float = 1.0  # max-entropy loss, Eq. 16


def _stage2_run() -> RunConfig:
    return RunConfig(steps=100_000)  # paper: 100K iterations for Stage II


@dataclass
class Stage2Config:
    stage1_checkpoint: str = ""  # the Stage I run's checkpoint.pt (kind 'stage1')
    target: float = 0.5  # p the attribute heads should give obfuscated attributes (0.5 = 1 bit)
    extra_flip_prob: float = 0.1  # besides one random attribute, each other is obfuscated with p
    reshare: list[str] = field(default_factory=list)  # as Stage I's: the entropy loss judges x_obf shared
    mixer: MixerConfig = field(default_factory=MixerConfig)
    loss: Stage2LossConfig = field(default_factory=Stage2LossConfig)
    data: DataConfig = field(default_factory=DataConfig)  # attributes: the Stage I checkpoint's
    optim: OptimConfig = field(default_factory=OptimConfig)  # the mixer learns at lr_g
    run: RunConfig = field(default_factory=_stage2_run)
    # Copied from the Stage I checkpoint (leave unset; if set they must match it).
    variant: str | None = None
    generator: GeneratorConfig | None = None
    discriminator: DiscriminatorConfig | None = None


def load_stage1(cfg: Stage2Config) -> dict:
    """Read the Stage I checkpoint and make ``cfg`` consistent with it (in place).

    Fills variant/generator/discriminator from the checkpoint; takes the data attributes and
    image size from it when ``cfg`` leaves them at their defaults, and refuses other values.
    """
    if not cfg.stage1_checkpoint:
        raise InfoscrubError("Stage II needs a Stage I checkpoint; pass --stage1 RUN/checkpoint.pt")
    if not 0.0 <= cfg.target <= 1.0:
        raise InfoscrubError(f"target must be a probability in [0, 1], got {cfg.target}")
    state = load_checkpoint(cfg.stage1_checkpoint, "stage1")
    for net, tensors in state["models"].items():  # a diverged Stage I teaches the mixer nothing
        if not all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point()):
            raise InfoscrubError(f"{cfg.stage1_checkpoint}: the {net} network holds NaN or infinite values "
                                 "(a diverged run?); continue from a good checkpoint")
    saved = state["config"]
    from_ckpt = {
        "variant": saved["variant"],
        "generator": config_from_dict(GeneratorConfig, saved["generator"], "generator"),
        "discriminator": config_from_dict(DiscriminatorConfig, saved["discriminator"], "discriminator"),
    }
    for name, value in from_ckpt.items():
        given = getattr(cfg, name)
        if given is not None and given != value:
            raise InfoscrubError(f"config {name} differs from the Stage I checkpoint's; leave it unset "
                                 "(it is copied from the checkpoint)")
        setattr(cfg, name, value)
    attributes = list(state["attributes"])
    default = DataConfig()
    if cfg.data.attributes != attributes:
        if cfg.data.attributes != default.attributes:
            raise InfoscrubError(f"data attributes must be the Stage I checkpoint's ({','.join(attributes)}); "
                                 f"got {','.join(cfg.data.attributes)}")
        cfg.data.attributes = attributes
    if cfg.data.image_size != state["image_size"]:
        if cfg.data.image_size != default.image_size:
            raise InfoscrubError(f"data.image_size must be the Stage I checkpoint's ({state['image_size']}), "
                                 f"got {cfg.data.image_size}")
        cfg.data.image_size = int(state["image_size"])
    if cfg.data.alignment is not None and cfg.data.alignment != state["alignment"]:
        raise InfoscrubError(f"data.alignment must be the Stage I checkpoint's ({state['alignment']}), "
                             f"got {cfg.data.alignment}")
    return state


class Stage2Task:
    kind = "stage2"

    def __init__(self, cfg: Stage2Config, ctx: TrainContext, stage1: dict) -> None:
        if cfg.variant not in VARIANTS or cfg.generator is None or cfg.discriminator is None:
            raise ValueError("Stage2Task needs a config completed by load_stage1()")
        self.cfg, self.ctx = cfg, ctx
        resolve_channels(list(cfg.reshare))  # an unknown channel fails now, not at the first step
        n = len(ctx.attributes)
        G = UNetEditor(n, cfg.generator)
        D = Discriminator(n, heads_for(cfg.variant), ctx.image_size, cfg.discriminator)
        # G_ema is the Stage I generator that ships; the mixer learns on top of it.
        load_module_state(G, stage1["models"].get("generator_ema", stage1["models"]["generator"]), "generator")
        load_module_state(D, stage1["models"]["discriminator"], "discriminator")
        for frozen in (G, D):
            frozen.eval().requires_grad_(False)
        self.G, self.D = ctx.prepare(G), ctx.prepare(D)
        self.M = ctx.prepare(ObfuscationMixer(n, cfg.mixer))
        # Compile exactly what a step runs (a compiled module would cover only forward()).
        self.encode, self.decode = ctx.compiled(self.G.encode), ctx.compiled(self.G.decode)
        self.D_run, self.M_run = ctx.compiled(self.D), ctx.compiled(self.M)
        self.opt = make_adam(self.M.parameters(), cfg.optim.lr_g, cfg.optim)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D, "mixer": self.M}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"mixer": self.opt}

    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        return adam_schedule(self.optimizers(), self.cfg.optim, progress, images_since_restart)

    def obfuscate(self, x: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                  mixer: torch.nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x', alpha, x_obf) for the attributes in ``mask`` (labelled path, a'_i = 1 - c_i)."""
        mixer = mixer or self.M_run
        with torch.no_grad():
            feats, code = self.encode(x)
            code_edit = edit_code(code, labels, mask)
            x_edit = self.decode(x, feats, code_edit)
        alpha = mixer(x, x_edit, code, code_edit)
        return x_edit, alpha, mix(x, x_edit, alpha)

    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
        cfg, w = self.cfg, self.cfg.loss
        self.M.train()
        mask = sample_inversion_masks(labels, cfg.extra_flip_prob, gen)
        with self.ctx.autocast():
            _, alpha, x_obf = self.obfuscate(x, labels, mask)
            realism, cls = self.D_run(x_obf)
            adv = hinge_g_loss(realism)
            channel = reshare_channel(cfg.reshare, step)
            if channel is not None:  # obfuscated as it is after sharing (straight-through)
                _, cls = self.D_run(straight_through(channel, x_obf))
            entropy = max_entropy_loss(cls, labels, mask, cfg.target)
            loss = w.adv * adv + w.entropy * entropy
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.M, self.ctx.dist)
        self.opt.step()
        with torch.no_grad():
            alpha = alpha.detach().float()
            p = torch.sigmoid(cls.detach().float())  # (B, heads, n)
            chosen = mask[:, None, :].expand_as(p)
            p_obf = (p * chosen).sum() / chosen.sum().clamp_min(1.0)
        return {"loss": loss.detach(), "adv": adv.detach(), "entropy": entropy.detach(),
                "alpha_mean": alpha.mean(), "alpha_std": alpha.std(),
                "p_obfuscated": p_obf,  # mean head probability on the obfuscated attributes
                "obf_l1": (x_obf.detach().float() - x.float()).abs().mean()}

    @torch.no_grad()
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Rows: samples; columns: input | inversion x' | alpha (grey) | x_obf, one random
        attribute per row (the same attributes at every step)."""
        from torchvision.utils import make_grid

        device = next(self.M.parameters()).device
        x, labels = x.to(device), labels.to(device)
        pick = torch.randint(labels.shape[1], (len(x),), generator=torch.Generator().manual_seed(0))
        mask = torch.zeros_like(labels)
        mask[torch.arange(len(x), device=device), pick.to(device)] = 1.0
        was_training = self.M.training
        self.M.eval()
        x_edit, alpha, x_obf = self.obfuscate(x, labels, mask, self.M)
        self.M.train(was_training)
        grey = (alpha * 2.0 - 1.0).expand(-1, 3, -1, -1)
        tiles = torch.stack([x, x_edit, grey, x_obf], 1).flatten(0, 1).float()
        return to_uint8(make_grid(tiles, nrow=4, padding=2, pad_value=1.0))


def train_stage2(cfg: Stage2Config, out: Path, resume: bool = False) -> dict[str, float]:
    stage1 = load_stage1(cfg)
    ctx, data = prepare_training(cfg.run, cfg.data)
    if data.alignment != stage1["alignment"]:
        raise InfoscrubError(f"the data has {data.alignment} alignment but the Stage I model was trained "
                             f"on {stage1['alignment']}")
    task = Stage2Task(cfg, ctx, stage1)
    del stage1
    if ctx.dist.is_main:
        print(f"stage2 on {cfg.stage1_checkpoint}: {len(data)} images, {len(ctx.attributes)} attributes, "
              f"mixer {count_parameters(task.M) / 1e6:.2f}M parameters (G and D frozen), target p {cfg.target}, "
              f"device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    return fit(task, ctx, data, cfg, out, resume)
