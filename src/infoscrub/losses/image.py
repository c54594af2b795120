"""Image-space losses: reconstruction, content hinge, hinge adversarial loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Eq. 6: mean absolute error."""
    return (x_rec.float() - x.float()).abs().mean()


def content_hinge_loss(x_edit: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. 12: per-sample mean L1 change beyond the free tolerance ``eps`` is paid for."""
    change = (x_edit.float() - x.float()).abs().flatten(1).mean(1)
    return F.relu(change - eps).mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.float().mean()
