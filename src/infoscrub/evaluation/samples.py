"""Sample faces for the figures (``figures.sample_grid``, the paper's Fig. 5): a few faces of
each attribute's subset, half with the attribute and half without, with their photo edits
and the mixer's alpha map."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Samples:
    """A few example faces of one attribute for the figures (uint8 images, alpha maps)."""

    labels: list[int] = field(default_factory=list)
    images: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    alpha: list[torch.Tensor] = field(default_factory=list)


class SampleKeeper:
    """Keeps the chosen rows of one attribute's subset as its batches go by."""

    def __init__(self, labels: np.ndarray, count: int, samples: Samples):
        # both kinds of face in every grid: the first with the attribute, then the first without
        with_it = np.flatnonzero(labels)[: count - count // 2]
        without = np.flatnonzero(~labels)[: count // 2]
        self.rows = set(with_it.tolist()) | set(without.tolist())
        self.labels, self.samples = labels, samples

    def keep(self, rows: np.ndarray, images: torch.Tensor, quantised: dict[str, torch.Tensor],
             alpha: torch.Tensor | None) -> None:
        """``rows``: the batch's rows in the subset; ``images``: its inputs; ``quantised``: its
        uint8 edits by path; ``alpha``: the mixer's maps, if any."""
        for k, row in enumerate(rows.tolist()):
            if row in self.rows:
                self._keep_one(k, int(self.labels[row]), images, quantised, alpha)

    def _keep_one(self, k: int, label: int, images: torch.Tensor, quantised: dict[str, torch.Tensor],
                  alpha: torch.Tensor | None) -> None:
        self.samples.labels.append(label)
        self.samples.images.setdefault("input", []).append(images[k].cpu())
        for path in ("label_free", "obfuscated"):
            if path in quantised:
                self.samples.images.setdefault(path, []).append(quantised[path][k].cpu())
        if alpha is not None:
            self.samples.alpha.append(alpha[k, 0].float().cpu())
