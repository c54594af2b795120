"""Trainer and report of the unseen adversary (SPEC §4): a ResNet-18 attribute classifier.

It is trained independently of the generator, on the same training split, on all 40 CelebA
attributes by default, with **mixup** (Zhang et al. 2018) and BCE on the mixed (soft)
targets so its probabilities are not all 0 or 1: the obfuscation results are entropies and
p(present) of this model, which are only meaningful if it is calibrated.

Choices (all configurable):
- ``mixup_alpha = 0.2``: lambda ~ Beta(0.2, 0.2) mostly mixes lightly (lambda near 0 or 1),
  the value Zhang et al. used for ImageNet-scale images; Thulasidasan et al. (2019, "On mixup
  training: improved calibration...") found alpha in [0.2, 0.4] gave the best calibration
  with no loss of accuracy, while alpha >= 1 makes networks under-confident. The report's
  ECE checks it. One lambda per batch (as in the mixup paper), drawn from a generator seeded
  by (seed, rank, step), so a resumed run mixes exactly as an uninterrupted one.
- SGD with Nesterov momentum 0.9, lr 0.05 at batch 128, weight decay 5e-4 (not on biases
  and norm parameters), a 2% linear warm-up then cosine decay to 0: the standard recipe for
  ResNets trained from scratch; AdamW (use lr ~1e-3, weight decay ~0.05) and a linear
  schedule are available.

After training, rank 0 evaluates on the test split (of ``data.path`` if it is a CelebA
folder, else of ``eval_path``): per-attribute accuracy, mean entropy in bits and expected
calibration error; the table is printed and saved as ``adversary_report.json``.
``evaluate_adversary`` is the reusable function behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infoscrub.attributes import CELEBA_ATTRIBUTES
from infoscrub.data.batches import to_uint8
from infoscrub.errors import InfoscrubError
from infoscrub.models import count_parameters
from infoscrub.models.adversary import AdversaryConfig, build_adversary
from infoscrub.storage.checkpoints import unwrap
from infoscrub.training.config import DataConfig, RunConfig
from infoscrub.training.distributed import average_gradients
from infoscrub.training.loop import TrainContext, fit, prepare_training

REPORT = "adversary_report.json"
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "linear")


@dataclass
class AdversaryOptimConfig:
    name: str = "sgd"  # sgd | adamw
    lr: float = 0.05  # peak learning rate (AdamW: use ~1e-3)
    momentum: float = 0.9  # SGD (Nesterov)
    weight_decay: float = 5e-4  # AdamW: use ~0.05; never on biases / norm parameters
    warmup: float = 0.02  # fraction of run.steps with a linear warm-up from 0
    schedule: str = "cosine"  # cosine | linear decay to 0 after the warm-up


def _all_attributes() -> DataConfig:
    return DataConfig(attributes=list(CELEBA_ATTRIBUTES))


def _adversary_run() -> RunConfig:
    # about 40 epochs of CelebA-HQ's 24K training images at batch 128
    return RunConfig(steps=8000, batch_size=128, sample_every=1000, checkpoint_every=1000)


@dataclass
class AdversaryTrainConfig:
    model: AdversaryConfig = field(default_factory=AdversaryConfig)
    data: DataConfig = field(default_factory=_all_attributes)
    mixup_alpha: float = 0.2  # Beta(alpha, alpha); 0 turns mixup off
    optimizer: AdversaryOptimConfig = field(default_factory=AdversaryOptimConfig)
    eval_path: str = ""  # test data when data.path cannot provide it (e.g. packed train shards)
    eval_split: str = "test"
    eval_limit: int | None = None  # evaluate on the first N images only
    run: RunConfig = field(default_factory=_adversary_run)


# ---- mixup and schedule -----------------------------------------------------------------

def mixup_lambda(alpha: float, seed: int, rank: int, step: int) -> float:
    """lambda ~ Beta(alpha, alpha), a pure function of (seed, rank, step); 1.0 if alpha <= 0."""
    if alpha <= 0:
        return 1.0
    return float(np.random.default_rng([seed, rank, step, 0x4D49]).beta(alpha, alpha))


def mixup(x: torch.Tensor, targets: torch.Tensor, lam: float,
          perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(lam * x + (1 - lam) * x[perm], the same mix of the (soft) targets)."""
    return lam * x + (1.0 - lam) * x[perm], lam * targets + (1.0 - lam) * targets[perm]


def lr_factor(step: int, total: int, warmup: float, schedule: str) -> float:
    """Linear warm-up over ``warmup * total`` steps, then cosine or linear decay to 0."""
    warm = int(warmup * total)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return max(0.0, 1.0 - progress)


def make_optimizer(model: nn.Module, cfg: AdversaryOptimConfig) -> torch.optim.Optimizer:
    if cfg.name not in OPTIMIZERS:
        raise InfoscrubError(f"unknown optimizer.name {cfg.name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if cfg.schedule not in SCHEDULES:
        raise InfoscrubError(f"unknown optimizer.schedule {cfg.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
    for group in opt.param_groups:
        group["initial_lr"] = cfg.lr  # the shared loop resets lr to this; the task schedules it
    return opt


# ---- the trainer ------------------------------------------------------------------------

class AdversaryTask:
    kind = "adversary"

    def __init__(self, cfg: AdversaryTrainConfig, ctx: TrainContext) -> None:
        if cfg.mixup_alpha < 0:
            raise InfoscrubError(f"mixup_alpha must be >= 0, got {cfg.mixup_alpha}")
        self.cfg, self.ctx = cfg, ctx
        try:
            model = build_adversary(len(ctx.attributes), cfg.model)
        except ValueError as exc:
            raise InfoscrubError(str(exc)) from None
        self.model = ctx.prepare(model)
        self.model_run = ctx.compiled(self.model)
        self.opt = make_optimizer(self.model, cfg.optimizer)

    def networks(self) -> dict[str, nn.Module]:
        return {"adversary": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adversary": self.opt}

    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        """Warm-up, then cosine or linear decay over the run's steps (its own schedule)."""
        opt = self.cfg.optimizer
        factor = lr_factor(step, self.ctx.run.steps, opt.warmup, opt.schedule)
        self.lr = opt.lr * factor
        for group in self.opt.param_groups:
            group["lr"] = self.lr
        return factor

    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
        cfg, run = self.cfg, self.ctx.run
        lam = mixup_lambda(cfg.mixup_alpha, run.seed, self.ctx.dist.rank, step)
        perm = torch.randperm(len(x), generator=gen, device=x.device)
        x_mix, y_mix = mixup(x, labels, lam, perm)
        self.model.train()
        with self.ctx.autocast():
            logits = self.model_run(x_mix)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y_mix)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.model, self.ctx.dist)
        self.opt.step()
        with torch.no_grad():  # accuracy against the labels of the dominant image of each mix
            dominant = labels if lam >= 0.5 else labels[perm]
            acc = ((logits.detach() > 0).float() == dominant).float().mean()
        return {"loss": loss.detach(), "train_acc": acc}

    @torch.no_grad()
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Each sample with two strips below it: predicted p(present) per attribute (grey,
        white = 1) and the true labels, attributes left to right in training order."""
        from torchvision.utils import make_grid

        model = unwrap(self.model)
        was_training = model.training
        model.eval()
        p = torch.sigmoid(model(x).float())
        model.train(was_training)
        size = x.shape[-1]
        height = max(2, size // 16)

        def strip(values: torch.Tensor) -> torch.Tensor:  # (B, n) in [0, 1] -> (B, 3, h, size)
            cells = values[:, None, None, :].expand(-1, 3, height, -1)
            return F.interpolate(cells, size=(height, size), mode="nearest") * 2.0 - 1.0

        faces = x.float()[:, :3]  # the picture of a face given extra planes (the strength)
        tiles = torch.cat([faces, strip(p), strip(labels.float())], 2)
        return to_uint8(make_grid(tiles, nrow=len(x), padding=2, pad_value=1.0))


def fit_adversary(cfg: AdversaryTrainConfig, out: Path, resume: bool = False) -> dict[str, float]:
    """Train the adversary (``infoscrub.evaluation.adversary.train_adversary`` adds the
    test-split report: what ``infoscrub train adversary`` runs)."""
    ctx, data = prepare_training(cfg.run, cfg.data)
    task = AdversaryTask(cfg, ctx)
    if ctx.dist.is_main:
        print(f"adversary ({cfg.model.arch}, width {cfg.model.width}): {len(data)} images, "
              f"{len(ctx.attributes)} attributes, {count_parameters(task.model) / 1e6:.1f}M parameters, "
              f"mixup alpha {cfg.mixup_alpha}, {cfg.optimizer.name} lr {cfg.optimizer.lr} "
              f"({cfg.optimizer.schedule}), device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    return fit(task, ctx, data, cfg, out, resume)
