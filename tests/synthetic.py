"""Tiny CelebA-format folders for tests (importable by any test: ``from synthetic import ...``).

``make_celeba_folder(root, n, size, layout, seed)`` writes
- ``images/`` (layout 'celebahq': size x size JPEGs) or ``img_align_celeba/`` (layout
  'celeba': 178 x 218 JPEGs, as the aligned CelebA release),
- ``list_attr_celeba.txt`` with all 40 attributes (+1 / -1),
- ``list_eval_partition.txt``: image i goes to train if i % 10 < 7, val if 7, test if 8-9
  (n=24: 18 train, 2 val, 4 test).

Images are noise plus a weak signal of a few attributes (Male: red tint, Smiling: bright
lower half, Eyeglasses: dark band across the upper third, Blond_Hair: yellow top rows), so a
classifier can learn something from a few dozen images. Everything is a function of ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from infoscrub.attributes import CELEBA_ATTRIBUTES

CELEBA_SIZE = (178, 218)  # width, height of the aligned CelebA release


def split_of(i: int) -> int:
    """Partition code (0 train, 1 val, 2 test) of the i-th synthetic image."""
    r = i % 10
    return 0 if r < 7 else (1 if r == 7 else 2)


def _draw(rng: np.random.Generator, labels: np.ndarray, width: int, height: int) -> np.ndarray:
    index = {name: k for k, name in enumerate(CELEBA_ATTRIBUTES)}
    image = rng.normal(128.0, 40.0, size=(height, width, 3))
    if labels[index["Male"]]:
        image[..., 0] += 50.0
    if labels[index["Smiling"]]:
        image[height // 2:] += 40.0
    if labels[index["Eyeglasses"]]:
        image[height // 4: height // 3] -= 80.0
    if labels[index["Blond_Hair"]]:
        image[: max(1, height // 8), :, :2] += 60.0
    return np.clip(image, 0, 255).astype(np.uint8)


def make_celeba_folder(root: str | Path, n: int = 24, size: int = 128, layout: str = "celebahq",
                       seed: int = 0) -> Path:
    """Write a CelebA-format folder with ``n`` random images; returns ``root``."""
    if layout not in ("celebahq", "celeba"):
        raise ValueError(f"unknown layout {layout!r}; choose celebahq or celeba")
    root = Path(root)
    image_dir = root / ("images" if layout == "celebahq" else "img_align_celeba")
    image_dir.mkdir(parents=True, exist_ok=True)
    width, height = (size, size) if layout == "celebahq" else CELEBA_SIZE
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.2, 0.6, size=len(CELEBA_ATTRIBUTES))
    labels = (rng.random((n, len(CELEBA_ATTRIBUTES))) < rates).astype(np.uint8)
    # Every attribute has both values whenever there are at least two images.
    if n >= 2:
        labels[0], labels[1] = 1, 0
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name, row in zip(names, labels):
        Image.fromarray(_draw(rng, row, width, height)).save(image_dir / name, quality=95)
    lines = [str(n), " ".join(CELEBA_ATTRIBUTES)]
    lines += [name + " " + " ".join("1" if v else "-1" for v in row) for name, row in zip(names, labels)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{name} {split_of(i)}\n" for i, name in enumerate(names)))
    return root
