"""``infoscrub data check``: validate a CelebA-format folder and summarise it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoscrub.data.celeba import SPLITS, list_image_files, read_celeba_folder
from infoscrub.data.images import decode_rgb, parallel_map
from infoscrub.errors import InfoscrubError


@dataclass
class DataSummary:
    root: str
    image_dir: str
    count: int
    partitions: dict[str, int]
    positive_rates: dict[str, float]

    def render(self) -> str:
        lines = [f"data: {self.root}", f"images: {self.image_dir}", f"{self.count} images"]
        lines.append("partitions: " + ", ".join(f"{k} {v}" for k, v in self.partitions.items()))
        lines.append("attribute positive rates:")
        lines += [f"  {name:<22} {rate:6.1%}" for name, rate in self.positive_rates.items()]
        return "\n".join(lines)


def _name_some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_folder(root: str | Path, images: str | None = None, decode: bool = True,
                 workers: int | None = None) -> DataSummary:
    """Cross-check annotations against files; with ``decode``, fully decode every image."""
    index = read_celeba_folder(root, images)
    on_disk = list_image_files(index.image_dir)
    annotated = set(index.names)
    no_image = sorted(annotated - on_disk)
    if no_image:
        raise InfoscrubError(f"{len(no_image)} annotated rows have no image in {index.image_dir}: "
                             f"{_name_some(no_image)}")
    no_row = sorted(on_disk - annotated)
    if no_row:
        raise InfoscrubError(f"{len(no_row)} images in {index.image_dir} have no annotation row: "
                             f"{_name_some(no_row)}")
    if decode:
        def bad(name: str) -> str | None:
            try:
                decode_rgb((index.image_dir / name).read_bytes(), name)
            except (InfoscrubError, OSError):
                return name
            return None

        broken = sorted(n for n in parallel_map(bad, index.names, workers) if n)
        if broken:
            raise InfoscrubError(f"{len(broken)} images are unreadable or truncated: {_name_some(broken)}")
    partitions = {split: int(np.sum(index.partitions == code)) for split, code in SPLITS.items()}
    rates = {a: float(index.labels[:, i].mean()) for i, a in enumerate(index.attribute_names)}
    return DataSummary(str(index.root), str(index.image_dir), len(index.names), partitions, rates)
