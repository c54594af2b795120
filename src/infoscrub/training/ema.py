"""A moving average of the generator's weights (G_ema).

G_ema is the copy that is sampled, evaluated, exported and shipped: averaging the
generator over its last few thousand updates removes the step-to-step jitter that GAN
training leaves in the weights (Karras et al.; StyleGAN2-ADA's ``ema_kimg``). The decay is
set by a half-life in images, ramped up early in training so the average follows the fast
initial changes instead of lagging behind them.
"""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_images: int, images_seen: int, half_life_images: int, rampup: float) -> float:
    """Per-step decay: the average halves its memory every ``half_life_images`` images
    (but at most every ``rampup * images_seen``, early on); 0 copies the weights."""
    half_life = float(half_life_images)
    if rampup > 0:
        half_life = min(half_life, images_seen * rampup)
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch_images / half_life)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model (parameters); buffers are copied."""
    ema_params = [p for p in ema.parameters()]
    params = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for target, source in zip(ema.buffers(), model.buffers()):
        target.copy_(source)
