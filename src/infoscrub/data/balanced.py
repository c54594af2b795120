"""Per-attribute balanced evaluation subsets (equal positives and negatives, seeded)."""

from __future__ import annotations

import zlib

import numpy as np


def balanced_indices(positive: np.ndarray, per_class: int | None, seed: int, key: str = "") -> np.ndarray:
    """Indices with as many positives as negatives: ``per_class`` of each, or as many as the
    rarer class allows. The draw depends only on (seed, key), so it is reproducible and the
    same attribute gets the same subset in every run and for every method compared."""
    positive = np.asarray(positive).astype(bool)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    n = min(len(pos), len(neg))
    if per_class is not None:
        n = min(n, per_class)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    chosen = np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)])
    return np.sort(chosen)
