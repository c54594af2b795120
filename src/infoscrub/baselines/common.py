"""Pieces the baseline editors share: checkpoint reading, edit checks, current values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from infoscrub.edit_request import check_edit_request
from infoscrub.errors import InfoscrubError
from infoscrub.storage.checkpoints import load_checkpoint

def read_baseline_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """A training checkpoint of ``kind`` (``.pt``); exported weights are not made for baselines."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    return load_checkpoint(path, kind)


def check_edit_args(name: str, mode: str, strength: float) -> float:
    """The shared mode/strength check, plus the baselines' refusal to obfuscate."""
    strength = check_edit_request(mode, strength)
    if mode == "obfuscate":
        raise InfoscrubError(f"{name} is a baseline that only inverts attributes; obfuscation "
                             "needs an InfoScrub stage2 model (use mode 'invert')")
    return strength


def current_values(predicted: torch.Tensor, labels: torch.Tensor | None, n: int) -> torch.Tensor:
    """The attribute values an inversion flips: from ``labels`` (B, n) when given (the labelled
    evaluation path), else the model's own prediction (the label-free path of a photo)."""
    if labels is None:
        return predicted
    labels = labels.to(predicted.device, torch.float32)
    if labels.dim() != 2 or labels.shape[1] != n or labels.shape[0] != predicted.shape[0]:
        raise InfoscrubError(f"labels must have shape ({predicted.shape[0]}, {n}), got {tuple(labels.shape)}")
    return labels
