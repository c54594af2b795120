"""The two-Gaussian toy of paper Fig. 3 (SPEC section 4, "Toy").

A positive and a negative 2-D Gaussian cluster; a small residual MLP translator
T(x, c') = x + f(x, c') learns to move points to the other cluster (c' = 1 - c), judged
by the attribute classifier(s) of one of three discriminator variants:

- ``d_attr``: one classifier trained on real points only;
- ``d_attr_at``: one classifier also trained on translated fakes with their ORIGINAL label;
- ``bidirectional``: two heads C_pn / C_np, routed by edit direction (SPEC section 2).

The generator pays a distortion hinge max(0, ||x' - x|| - margin) beyond a free
tolerance, plus cycle and identity terms. That hinge is what makes a real-only classifier
fail (the cheapest edit stops just past its boundary, in the low-density gap between the
clusters); the bi-directional heads tighten their boundaries around the target cluster so
the translator must land inside it. An optional realism discriminator (hinge loss) can be
added to every variant (``with_realism``).

Every loss comes from :mod:`infoscrub.losses`; this module only wires them together.
Geometry: the clusters are separated along x (positive at +separation/2, negative at
-separation/2); the sd is ``sd_along`` along the separation axis and ``sd_across``
across it, so the cluster is a thin strip and the gap between clusters has no density.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from infoscrub.losses.attribute import (
    NP,
    PN,
    attribute_loss_d_fake,
    attribute_loss_d_real,
    attribute_loss_g,
    heads_for,
)
from infoscrub.losses.image import hinge_d_loss, hinge_g_loss


@dataclass
class ToyConfig:
    """Every hyperparameter of the toy, named once."""

    seed: int = 0
    steps: int = 3000
    batch: int = 256  # points per class per step
    threads: int = 1  # tiny nets: 2 threads gain ~15% on an idle CPU, lose 10x on a busy one
    variants: tuple[str, ...] = ("d_attr", "d_attr_at", "bidirectional")  # panel order (paper Fig. 3)
    # data (SPEC section 4: clusters 4 units apart, sd 1.0 x 0.25)
    separation: float = 4.0
    sd_along: float = 0.25  # along the separation axis (x)
    sd_across: float = 1.0  # across it (y)
    # networks
    hidden: int = 64
    # optimisation (TTUR: D faster than G)
    lr_g: float = 1e-3
    lr_d: float = 2e-3
    betas: tuple[float, float] = (0.5, 0.9)
    d_warmup: int = 200  # D steps on real points only before G starts
    # generator loss weights
    w_attr: float = 1.0
    margin: float = 1.0  # free distortion (Euclidean, in data units)
    w_dist: float = 0.5
    w_cycle: float = 1.0
    w_identity: float = 1.0
    # discriminator loss weights
    w_d_real: float = 1.0
    w_d_fake: float = 1.0
    # optional realism discriminator (hinge loss)
    with_realism: bool = False
    w_adv: float = 1.0
    # evaluation
    eval_points: int = 2000  # per class
    radius: float = 2.0  # Mahalanobis radius of the target region

    def settings(self) -> dict:
        out = dataclasses.asdict(self)
        out["variants"] = list(self.variants)
        out["betas"] = list(self.betas)
        return out


# ----------------------------------------------------------------------------- data
def cluster_means(cfg: ToyConfig) -> torch.Tensor:
    """(2, 2): row 0 = negative mean, row 1 = positive mean (indexed by label)."""
    h = cfg.separation / 2.0
    return torch.tensor([[-h, 0.0], [h, 0.0]])


def cluster_sd(cfg: ToyConfig) -> torch.Tensor:
    return torch.tensor([cfg.sd_along, cfg.sd_across])


def sample(cfg: ToyConfig, per_class: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` points of each cluster: x (2P, 2), labels (2P, 1) with 1 = positive."""
    labels = torch.cat([torch.ones(per_class), torch.zeros(per_class)]).unsqueeze(1)
    noise = torch.randn(2 * per_class, 2, generator=gen)
    x = cluster_means(cfg)[labels[:, 0].long()] + noise * cluster_sd(cfg)
    return x, labels


def mahalanobis(cfg: ToyConfig, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Distance of each point to the cluster of ``label`` (diagonal covariance)."""
    return ((x - cluster_means(cfg)[label.long()]) / cluster_sd(cfg)).norm(dim=1)


# ----------------------------------------------------------------------------- networks
class Translator(nn.Module):
    """T(x, c') = x + f(x, c'); f starts at zero so T starts as the identity."""

    def __init__(self, hidden: int):
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(3, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )
        nn.init.zeros_(self.f[-1].weight)
        nn.init.zeros_(self.f[-1].bias)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return x + self.f(torch.cat([x, 2.0 * target - 1.0], dim=1))


class Discriminator(nn.Module):
    """A shared trunk with ``heads`` attribute heads (logits (B, H, 1)) and, optionally,
    a realism head (separate small trunk, so the attribute boundaries stay readable)."""

    def __init__(self, hidden: int, heads: int, realism: bool):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        )
        self.heads = nn.ModuleList(nn.Linear(hidden, 1) for _ in range(heads))
        self.realism = None
        if realism:
            self.realism = nn.Sequential(
                nn.Linear(2, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            )

    def attributes(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        return torch.stack([head(h) for head in self.heads], dim=1)

    def real_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.realism(x).squeeze(1)


# ----------------------------------------------------------------------------- training
def d_step_losses(disc: Discriminator, x: torch.Tensor, labels: torch.Tensor, fake: torch.Tensor,
                  variant: str, cfg: ToyConfig) -> dict[str, torch.Tensor]:
    """Discriminator losses on real points and (detached) translations; every edit is
    a full inversion of the single attribute (mask = 1)."""
    mask = torch.ones_like(labels)
    fake = fake.detach()
    losses = {
        "d_real": cfg.w_d_real * attribute_loss_d_real(disc.attributes(x), labels),
        "d_fake": cfg.w_d_fake * attribute_loss_d_fake(disc.attributes(fake), labels, mask, variant),
    }
    if disc.realism is not None:
        losses["d_adv"] = hinge_d_loss(disc.real_logits(x), disc.real_logits(fake))
    return losses


def g_step_losses(trans: Translator, disc: Discriminator, x: torch.Tensor, labels: torch.Tensor,
                  variant: str, cfg: ToyConfig) -> dict[str, torch.Tensor]:
    mask = torch.ones_like(labels)
    target = 1.0 - labels
    fake = trans(x, target)
    losses = {
        "g_attr": cfg.w_attr * attribute_loss_g(disc.attributes(fake), labels, mask, variant),
        "g_dist": cfg.w_dist * torch.relu((fake - x).norm(dim=1) - cfg.margin).mean(),
        "g_cycle": cfg.w_cycle * (trans(fake, labels) - x).norm(dim=1).mean(),
        "g_identity": cfg.w_identity * (trans(x, labels) - x).norm(dim=1).mean(),
    }
    if disc.realism is not None:
        losses["g_adv"] = cfg.w_adv * hinge_g_loss(disc.real_logits(fake))
    return losses


def train_variant(cfg: ToyConfig, variant: str,
                  callback=None) -> tuple[Translator, Discriminator]:
    """Train one variant; the seed fixes both the initial weights and the data stream, so
    every variant sees the same points in the same order. ``callback(step, trans, disc)``,
    if given, runs after every step (for tracing the dynamics)."""
    torch.manual_seed(cfg.seed)
    trans = Translator(cfg.hidden)
    disc = Discriminator(cfg.hidden, heads_for(variant), cfg.with_realism)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt_g = torch.optim.Adam(trans.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=cfg.betas)

    for _ in range(cfg.d_warmup):
        x, labels = sample(cfg, cfg.batch, gen)
        loss = cfg.w_d_real * attribute_loss_d_real(disc.attributes(x), labels)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()

    for step in range(1, cfg.steps + 1):
        x, labels = sample(cfg, cfg.batch, gen)
        with torch.no_grad():
            fake = trans(x, 1.0 - labels)
        d_loss = sum(d_step_losses(disc, x, labels, fake, variant, cfg).values())
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        g_loss = sum(g_step_losses(trans, disc, x, labels, variant, cfg).values())
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if callback is not None:
            callback(step, trans, disc)
    return trans, disc


# ----------------------------------------------------------------------------- evaluation
def evaluate(cfg: ToyConfig, trans: Translator, x: torch.Tensor, labels: torch.Tensor) -> dict:
    """Share of translations inside the target cluster's ``radius``-sigma region and mean
    Euclidean distance to the target mean, per direction and overall."""
    target = 1.0 - labels
    with torch.no_grad():
        fake = trans(x, target)
    maha = mahalanobis(cfg, fake, target[:, 0])
    dist = (fake - cluster_means(cfg)[target[:, 0].long()]).norm(dim=1)
    inside = (maha <= cfg.radius).float()
    out = {}
    for name, sel in (("pos_to_neg", labels[:, 0] == 1), ("neg_to_pos", labels[:, 0] == 0),
                      ("overall", torch.ones_like(labels[:, 0], dtype=torch.bool))):
        out[name] = {"share_inside_2sigma": round(inside[sel].mean().item(), 4),
                     "mean_dist_to_target_mean": round(dist[sel].mean().item(), 4)}
    return out


def reference_share(cfg: ToyConfig) -> float:
    """Share of the target cluster's own points within ``radius`` (2-D: 1 - exp(-r^2/2)),
    the ceiling a perfect translation reaches (0.865 for r = 2)."""
    return 1.0 - math.exp(-cfg.radius ** 2 / 2.0)


def run_toy(cfg: ToyConfig, out_dir: str | Path | None = None, plot: bool = True) -> dict:
    """Train every variant of ``cfg.variants`` and return the JSON-able result; with
    ``out_dir``, write ``toy.json`` (and ``toy.png`` when ``plot``) there."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _run_toy(cfg, out_dir, plot)
    finally:
        torch.set_num_threads(previous_threads)


def _run_toy(cfg: ToyConfig, out_dir: str | Path | None, plot: bool) -> dict:
    for variant in cfg.variants:
        heads_for(variant)  # raises ValueError on an unknown name
    start = time.perf_counter()
    test_x, test_labels = sample(cfg, cfg.eval_points, torch.Generator().manual_seed(cfg.seed + 10_000))
    results, models = {}, {}
    for variant in cfg.variants:
        t0 = time.perf_counter()
        trans, disc = train_variant(cfg, variant)
        results[variant] = evaluate(cfg, trans, test_x, test_labels)
        results[variant]["train_seconds"] = round(time.perf_counter() - t0, 2)
        models[variant] = (trans, disc)
    result = {
        "settings": cfg.settings(),
        "reference_share_perfect_translation": round(reference_share(cfg), 4),
        "variants": results,
        "seconds": None,
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if plot:
            plot_toy(cfg, models, test_x, test_labels, results, out_dir / "toy.png")
            result["png"] = str(out_dir / "toy.png")
    result["seconds"] = round(time.perf_counter() - start, 2)
    if out_dir is not None:
        (out_dir / "toy.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# ----------------------------------------------------------------------------- plotting
TITLES = {"d_attr": "D_attr (real only)", "d_attr_at": "D_attr + adversarial training",
          "bidirectional": "bi-directional (C_pn, C_np)"}


def plot_toy(cfg: ToyConfig, models: dict, x: torch.Tensor, labels: torch.Tensor, results: dict,
             path: str | Path, max_points: int = 400) -> None:
    """One panel per variant: the clusters (red = positive, blue = negative) with their
    2-sigma ellipses, each classifier's p = 0.5 contour, and the translated points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    h = cfg.separation / 2.0
    lim_x, lim_y = h + 2.5, 3.0 * cfg.sd_across + 0.5
    gx, gy = torch.meshgrid(torch.linspace(-lim_x, lim_x, 241), torch.linspace(-lim_y, lim_y, 161),
                            indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1)
    pos = labels[:, 0] == 1
    show_pos = torch.nonzero(pos)[:max_points, 0]
    show_neg = torch.nonzero(~pos)[:max_points, 0]
    head_style = {  # (colour, label) per head index of the variant
        1: [("black", "C (p=0.5)")],
        2: [("green", "C_pn (p=0.5)"), ("darkorange", "C_np (p=0.5)")],
    }

    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.6), squeeze=False)
    for ax, (variant, (trans, disc)) in zip(axes[0], models.items()):
        with torch.no_grad():
            probs = torch.sigmoid(disc.attributes(grid))[:, :, 0]
            fake = trans(x, 1.0 - labels)
        ax.scatter(x[show_pos, 0], x[show_pos, 1], s=4, c="tab:red", alpha=0.35, label="positive (real)")
        ax.scatter(x[show_neg, 0], x[show_neg, 1], s=4, c="tab:blue", alpha=0.35, label="negative (real)")
        for lab in (0, 1):
            mean = cluster_means(cfg)[lab]
            ax.add_patch(Ellipse(mean.tolist(), 2 * cfg.radius * cfg.sd_along,
                                 2 * cfg.radius * cfg.sd_across, fill=False, ls=":", color="gray"))
        for head, (colour, name) in enumerate(head_style[probs.shape[1]]):
            p = probs[:, head].reshape(gx.shape)
            ax.contour(gx, gy, p, levels=[0.5], colors=colour, linewidths=1.6)
            ax.plot([], [], color=colour, label=name)
        ax.scatter(fake[show_pos, 0], fake[show_pos, 1], s=6, c="gold", edgecolors="none",
                   label="translated pos->neg")
        ax.scatter(fake[show_neg, 0], fake[show_neg, 1], s=6, c="purple", marker="x", linewidths=0.6,
                   label="translated neg->pos")
        share = results[variant]["overall"]["share_inside_2sigma"]
        ax.set_title(f"{TITLES.get(variant, variant)}\ninside target 2-sigma: {share:.2f}", fontsize=10)
        ax.set_xlim(-lim_x, lim_x)
        ax.set_ylim(-lim_y, lim_y)
        ax.set_aspect("equal")
    axes[0][0].legend(fontsize=7, loc="lower left", markerscale=2)
    suffix = " + realism D" if cfg.with_realism else ""
    fig.suptitle(f"Two-Gaussian toy (paper Fig. 3){suffix}: seed {cfg.seed}, {cfg.steps} steps, "
                 f"distortion margin {cfg.margin}, weight {cfg.w_dist}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["ToyConfig", "run_toy", "train_variant", "evaluate", "plot_toy", "sample",
           "mahalanobis", "Translator", "Discriminator", "PN", "NP"]
