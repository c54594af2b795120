"""Figures of the evaluation (matplotlib, Agg backend, PNG).

- ``hist_p.png`` / ``hist_entropy.png`` (paper App. B, Fig. A2): per attribute, the
  adversary's p(present) and its entropy on the original, inverted (label-free) and
  obfuscated images; left column images that have the attribute, right column the others.
- ``scatter_obfuscation.png`` (App. A, Fig. A1) and ``scatter_inversion.png``: p before vs
  p after, one panel per attribute, positives and negatives coloured apart.
- ``samples/<attribute>.png`` (Fig. 5): input, inversion, obfuscation and the mixer's alpha
  map (white = keep the input) for a few faces with and without the attribute.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from infoscrub.evaluation.metrics import entropy_bits

COLORS = {"real": "tab:blue", "label_free": "tab:orange", "obfuscated": "tab:green"}
NAMES = {"real": "original", "label_free": "inverted", "obfuscated": "obfuscated"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _entropy(p: np.ndarray) -> np.ndarray:
    import torch

    return entropy_bits(torch.from_numpy(np.asarray(p, dtype=np.float32))).numpy()


def histograms(col, path: Path, quantity: str = "p") -> Path:
    plt = _pyplot()
    keys = [k for k in ("real", "label_free", "obfuscated") if k == "real" or k in col.paths]
    n = len(col.attributes)
    fig, axes = plt.subplots(n, 2, figsize=(8, 1.9 * n + 0.6), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for r, a in enumerate(col.attributes):
        run, t = col.runs[a], col.watch.index(a)
        for c, (group, sel) in enumerate((("has", run.labels), ("has not", ~run.labels))):
            ax = axes[r][c]
            for k in keys:
                values = run.p[k][sel, t]
                if quantity == "entropy":
                    values = _entropy(values)
                ax.hist(values, bins=bins, alpha=0.5, color=COLORS[k], label=NAMES[k])
            ax.set_title(f"{a}: {group} ({int(sel.sum())})", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_xlim(0, 1)
    axes[0][0].legend(fontsize=7)
    label = "p(present)" if quantity == "p" else "entropy (bits)"
    fig.supxlabel(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def scatter(col, path: Path, after: str) -> Path:
    plt = _pyplot()
    n = len(col.attributes)
    cols = min(5, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows + 0.4), squeeze=False)
    for i, a in enumerate(col.attributes):
        ax = axes[i // cols][i % cols]
        run, t = col.runs[a], col.watch.index(a)
        for sel, color, name in ((run.labels, "tab:red", "has"), (~run.labels, "tab:blue", "has not")):
            ax.scatter(run.p["real"][sel, t], run.p[after][sel, t], s=6, alpha=0.6, color=color, label=name)
        ax.axhline(0.5, color="gray", lw=0.6, ls="--")
        ax.plot([0, 1], [0, 1], color="lightgray", lw=0.6)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(a, fontsize=8)
        ax.tick_params(labelsize=7)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.supxlabel("p(present) before", fontsize=9)
    fig.supylabel(f"p(present) after ({NAMES[after]})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def sample_grid(run, path: Path) -> Path | None:
    samples = run.samples
    if not samples.labels:
        return None
    plt = _pyplot()
    rows = [k for k in ("input", "label_free", "obfuscated") if k in samples.images]
    titles = {"input": "input", "label_free": "inverted", "obfuscated": "obfuscated"}
    n_rows = len(rows) + (1 if samples.alpha else 0)
    n = len(samples.labels)
    fig, axes = plt.subplots(n_rows, n, figsize=(1.6 * n, 1.6 * n_rows + 0.3), squeeze=False)
    for c in range(n):
        for r, key in enumerate(rows):
            axes[r][c].imshow(samples.images[key][c].permute(1, 2, 0).numpy())
            if c == 0:
                axes[r][c].set_ylabel(titles[key], fontsize=8)
        if samples.alpha:
            axes[-1][c].imshow(samples.alpha[c].numpy(), cmap="gray", vmin=0, vmax=1)
            if c == 0:
                axes[-1][c].set_ylabel("alpha", fontsize=8)
        axes[0][c].set_title("has" if samples.labels[c] else "has not", fontsize=8)
        for r in range(n_rows):
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
    fig.suptitle(run.attribute, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_figures(col, out: Path) -> list[Path]:
    """All figures of one evaluation; returns their paths."""
    out = Path(out)
    written = [histograms(col, out / "hist_p.png", "p"),
               histograms(col, out / "hist_entropy.png", "entropy")]
    if "label_free" in col.paths:
        written.append(scatter(col, out / "scatter_inversion.png", "label_free"))
    if "obfuscated" in col.paths:
        written.append(scatter(col, out / "scatter_obfuscation.png", "obfuscated"))
    (out / "samples").mkdir(exist_ok=True)
    for a in col.attributes:
        grid = sample_grid(col.runs[a], out / "samples" / f"{a}.png")
        if grid is not None:
            written.append(grid)
    return written
