"""Pieces the baseline editors share: checkpoint checks, edit checks, current values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from infoscrub.edit_request import check_edit_request
from infoscrub.errors import InfoscrubError
from infoscrub.storage.weights import check_networks


def baseline_checkpoint_path(path: str | Path) -> Path:
    """A baseline's training checkpoint (``.pt``; a run folder means its checkpoint.pt):
    exported weights are not made for baselines."""
    path = Path(path)
    return path / "checkpoint.pt" if path.is_dir() else path


def check_baseline_state(path: Path, kind: str, state: dict[str, Any]) -> None:
    """What a baseline's builder reads without checking: its networks (present, finite) and
    the config's model section."""
    check_networks(path, kind, state["models"])
    if not isinstance(state["config"].get("model"), dict):
        raise InfoscrubError(f"{path}: config has no model section")


@contextmanager
def building(path: Path, kind: str) -> Iterator[None]:
    """A config that builds nothing (a negative width, a size the network cannot halve) is
    one line naming the file, not a traceback."""
    try:
        yield
    except (ValueError, TypeError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InfoscrubError(f"{path}: its config does not build a {kind} model ({detail})") from None


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
