"""Scalar metrics of the evaluation protocol (SPEC §4), on tensors or arrays.

All rates are fractions in [0, 1] (reports print percent). Attribute predictions are
thresholded at p > 0.5 ("present").
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infoscrub.inference import entropy_bits

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


def expected_calibration_error(p: np.ndarray | torch.Tensor, labels, bins: int = 15) -> float | None:
    """ECE of binary predictions: confidence max(p, 1-p) against correctness, equal-width
    bins over [0.5, 1] (the classic 15-bin definition of Guo et al. 2017 for the binary
    case). 0 = perfectly calibrated."""
    if isinstance(p, torch.Tensor):
        p = p.detach().cpu().numpy()
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    lab = _bool(labels).reshape(-1)
    if p.size == 0:
        return None
    conf = np.maximum(p, 1 - p)
    correct = (p > 0.5) == lab
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return float(ece)


def mean_or_none(values) -> float | None:
    """Mean of the values that are not None/NaN; None if none is left."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else None
