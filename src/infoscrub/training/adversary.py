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

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infoscrub.attributes import CELEBA_ATTRIBUTES, resolve_attributes
from infoscrub.data.batches import to_model_range, to_uint8
from infoscrub.data.imageset import ImageSet, load_image_set
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

        tiles = torch.cat([x.float(), strip(p), strip(labels.float())], 2)
        return to_uint8(make_grid(tiles, nrow=len(x), padding=2, pad_value=1.0))


# ---- evaluation -------------------------------------------------------------------------

def expected_calibration_error(p: torch.Tensor, y: torch.Tensor, bins: int = 10) -> float:
    """ECE of p(present) against the 0/1 labels: ``bins`` equal-width bins over [0, 1],
    sum over bins of (share of samples) * |mean p - share of positives|."""
    p, y = p.double().flatten(), y.double().flatten()
    if len(p) == 0:
        return float("nan")
    index = (p * bins).long().clamp(0, bins - 1)
    count = torch.bincount(index, minlength=bins).double()
    sum_p = torch.bincount(index, weights=p, minlength=bins)
    sum_y = torch.bincount(index, weights=y, minlength=bins)
    return float((sum_p - sum_y).abs().sum() / len(p))


@torch.no_grad()
def predict_probabilities(attacker_or_model: Any, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """p(present) (N, outputs) on the CPU for uint8 images (N, 3, S, S); eval mode."""
    from infoscrub.inference import Attacker

    if isinstance(attacker_or_model, Attacker):
        predict, model = attacker_or_model.predict, None
    else:
        model = unwrap(attacker_or_model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()

        def predict(faces: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(model(faces.to(device, torch.float32)).float())

    try:
        parts = [predict(to_model_range(images[i:i + batch_size])).cpu()
                 for i in range(0, len(images), batch_size)]
    finally:
        if model is not None:
            model.train(was_training)
    return torch.cat(parts)


def evaluate_adversary(attacker_or_model: Any, image_set: ImageSet, attributes: list[str] | None = None,
                       batch_size: int = 256) -> dict[str, Any]:
    """Accuracy, entropy (bits) and calibration of an attribute classifier on ``image_set``.

    ``attacker_or_model``: an ``infoscrub.inference.Attacker`` (its own attribute order; the
    chosen ``attributes`` must be among them; None = all of them) or a bare network whose
    outputs are ``attributes`` in that order. Returns {"count", "split", "attributes",
    "per_attribute": {name: {accuracy, balanced_accuracy, entropy_bits, ece, mean_p,
    positive_rate, positives}}, "mean": {accuracy, balanced_accuracy, entropy_bits, ece}}.
    """
    from infoscrub.inference import Attacker, entropy_bits

    if isinstance(attacker_or_model, Attacker):
        available = attacker_or_model.attributes
        attributes = resolve_attributes(attributes if attributes is not None else available, available)
        columns = [available.index(a) for a in attributes]
    else:
        if attributes is None:
            raise InfoscrubError("evaluate_adversary needs the attribute names of a bare model's outputs")
        attributes = resolve_attributes(attributes)
        columns = list(range(len(attributes)))
    if len(image_set) == 0:
        raise InfoscrubError("cannot evaluate the adversary on an empty image set")
    p = predict_probabilities(attacker_or_model, image_set.images, batch_size)
    if p.shape[1] < max(columns) + 1:
        raise InfoscrubError(f"the adversary has {p.shape[1]} outputs but {len(attributes)} attributes were named")
    p = p[:, columns]
    y = image_set.targets(attributes).cpu()
    entropy = entropy_bits(p)
    per: dict[str, dict[str, float]] = {}
    for k, name in enumerate(attributes):
        pk, yk = p[:, k], y[:, k]
        correct = ((pk > 0.5).float() == yk).float()
        rates = [float(correct[yk == v].mean()) for v in (1.0, 0.0) if bool((yk == v).any())]
        per[name] = {
            "accuracy": float(correct.mean()),
            "balanced_accuracy": sum(rates) / len(rates),
            "entropy_bits": float(entropy[:, k].mean()),
            "ece": expected_calibration_error(pk, yk),
            "mean_p": float(pk.mean()),
            "positive_rate": float(yk.mean()),
            "positives": int(yk.sum()),
        }
    mean = {key: float(np.mean([row[key] for row in per.values()]))
            for key in ("accuracy", "balanced_accuracy", "entropy_bits", "ece")}
    return {"count": len(image_set), "split": image_set.split, "attributes": list(attributes),
            "per_attribute": per, "mean": mean}


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of ``evaluate_adversary``'s result."""
    head = f"{'attribute':<22} {'acc':>6} {'bal.acc':>7} {'pos.rate':>8} {'H(bits)':>7} {'ECE':>6}"
    lines = [f"adversary on {report['count']} {report['split']} images", head, "-" * len(head)]
    for name, row in report["per_attribute"].items():
        lines.append(f"{name:<22} {row['accuracy']:>6.3f} {row['balanced_accuracy']:>7.3f} "
                     f"{row['positive_rate']:>8.3f} {row['entropy_bits']:>7.3f} {row['ece']:>6.3f}")
    m = report["mean"]
    lines += ["-" * len(head), f"{'mean':<22} {m['accuracy']:>6.3f} {m['balanced_accuracy']:>7.3f} "
              f"{'':>8} {m['entropy_bits']:>7.3f} {m['ece']:>6.3f}"]
    return "\n".join(lines)


def load_eval_set(cfg: AdversaryTrainConfig) -> tuple[ImageSet | None, str]:
    """The evaluation images (or None) and a note saying where they come from / why not."""
    from infoscrub.data.shards import is_packed, read_manifest

    path = cfg.eval_path or cfg.data.path
    if is_packed(path):
        split = read_manifest(path)["split"]
        if split != cfg.eval_split:
            return None, (f"no evaluation: {path} holds packed {split} data; pass eval_path=FOLDER_OR_PACKED_"
                          f"{cfg.eval_split.upper()} to evaluate on the {cfg.eval_split} split")
    try:
        images = load_image_set(path, cfg.eval_split, cfg.data.image_size, cfg.data.alignment,
                                limit=cfg.eval_limit)
    except InfoscrubError as exc:
        if cfg.eval_path:
            raise
        return None, f"no evaluation: {exc}"
    return images, f"evaluated on the {cfg.eval_split} split of {path}"


def train_adversary(cfg: AdversaryTrainConfig, out: Path, resume: bool = False) -> dict[str, float]:
    ctx, data = prepare_training(cfg.run, cfg.data)
    task = AdversaryTask(cfg, ctx)
    if ctx.dist.is_main:
        print(f"adversary ({cfg.model.arch}, width {cfg.model.width}): {len(data)} images, "
              f"{len(ctx.attributes)} attributes, {count_parameters(task.model) / 1e6:.1f}M parameters, "
              f"mixup alpha {cfg.mixup_alpha}, {cfg.optimizer.name} lr {cfg.optimizer.lr} "
              f"({cfg.optimizer.schedule}), device {ctx.device}, world {ctx.dist.world_size}", flush=True)
    record = fit(task, ctx, data, cfg, out, resume)
    if ctx.dist.is_main:
        del data
        test, note = load_eval_set(cfg)
        print(note, flush=True)
        if test is not None:
            report = evaluate_adversary(task.model, test, ctx.attributes)
            report.update(source=note, step=cfg.run.steps, mixup_alpha=cfg.mixup_alpha)
            print(format_report(report), flush=True)
            (out / REPORT).write_text(json.dumps(report, indent=2))
            record = {**record, "test_accuracy": report["mean"]["accuracy"],
                      "test_entropy_bits": report["mean"]["entropy_bits"], "test_ece": report["mean"]["ece"]}
    return record
