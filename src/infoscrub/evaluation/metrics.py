"""Scalar metrics of the evaluation protocol (SPEC §4), on tensors or arrays.

All rates are fractions in [0, 1] (reports print percent). Attribute predictions are
thresholded at p > 0.5 ("present").
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infoscrub import entropy

__all__ = ["entropy_bits", "inversion_rates", "accuracy", "psnr", "l1", "expected_calibration_error"]


def _bool(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(bool)


def _share(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def inversion_rates(predicted: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> dict:
    """Paper §4.2 on the *original* labels: TPR = share of originally positive images still
    predicted positive, TNR = share of originally negative still predicted negative,
    Acc = share still predicted as the original label. After an inversion lower is better;
    on unedited images they are the adversary's ordinary TPR/TNR/accuracy. A rate over an
    empty group is None."""
    pred, lab = _bool(predicted).reshape(-1), _bool(labels).reshape(-1)
    if pred.shape != lab.shape:
        raise ValueError("predictions and labels differ in length")
    return {
        "tpr": _share(pred[lab]),
        "tnr": _share(~pred[~lab]),
        "acc": _share(pred == lab),
        "n_pos": int(lab.sum()),
        "n_neg": int((~lab).sum()),
    }


def accuracy(predicted, labels) -> float | None:
    """Share of equal entries (any shape)."""
    return _share(_bool(predicted) == _bool(labels))


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference of [-1, 1] images (B, C, H, W) -> (B,)."""
    return (a.float() - b.float()).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, max_db: float = 100.0) -> torch.Tensor:
    """Per-image PSNR in dB (B,) of images with the given range (2 for [-1, 1], which equals
    the PSNR of the 8-bit images); identical images get ``max_db``."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
    floor = data_range**2 / 10 ** (max_db / 10)
    return 10.0 * torch.log10(data_range**2 / mse.clamp_min(floor))


def expected_calibration_error(p: np.ndarray | torch.Tensor, labels, bins: int = 10) -> float | None:
    """Calibration of p(present): equal-width bins over [0, 1], the sum over bins of (share of
    samples) * |mean p - share of positives| (0 = perfectly calibrated). The entropies and
    p(present) the protocol reports mean something only when this is small."""
    if isinstance(p, torch.Tensor):
        p = p.detach().cpu().numpy()
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    y = _bool(labels).reshape(-1).astype(np.float64)
    if p.size == 0:
        return None
    which = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    sum_p = np.bincount(which, weights=p, minlength=bins)
    sum_y = np.bincount(which, weights=y, minlength=bins)
    return float(np.abs(sum_p - sum_y).sum() / p.size)


def entropy_bits(p):
    """Binary entropy in bits of p(present): 1 at p = 0.5, 0 at p in {0, 1}. Takes a tensor
    (returns float32 of its shape) or a number (returns a float, by ``infoscrub.entropy``)."""
    if not isinstance(p, torch.Tensor):
        return entropy.entropy_bits(p)
    p = p.double().clamp(1e-12, 1 - 1e-12)
    h = -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))
    return torch.where((p <= 1e-12) | (p >= 1 - 1e-12), torch.zeros_like(h), h).float()


def mean_or_none(values) -> float | None:
    """Mean of the values that are not None/NaN; None if none is left."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else None
