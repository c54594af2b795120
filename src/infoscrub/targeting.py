"""A strength chosen per face: the smallest edit that reaches a goal against the attacker.

A fixed strength is too much for one face and too little for another. The generator runs
once per face (its full-strength edit); a strength s mixes that change in, x + s (x' - x),
and the report attacker judges a batch of strengths at a time:

- invert: the smallest s at which the attacker's belief has crossed to the other side by
  ``margin`` for every chosen attribute (p < 0.5 - margin for one it saw present);
- obfuscate: the s whose belief is closest to 0.5 (the worst chosen attribute counts),
  reached when within ``tolerance``.

Optionally the goal must hold after a sharing channel (``after``, e.g. JPEG 75). The search
is a grid of strengths, then a finer grid between the best point and its neighbour: two
attacker calls per face, whatever the model, with a resolution of 1/256.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from infoscrub.edit_request import Target
from infoscrub.sharing import CHANNELS

GRID = 16  # intervals of each round
SAFETY = 0.02  # the search aims this much past the goal: the saved photo differs a little


@dataclass(frozen=True)
class Choice:
    strength: float
    reached: bool
    p: dict[str, float]  # the attacker's belief at that strength, per chosen attribute


Judge = Callable[[np.ndarray], np.ndarray]  # (N, S, S, 3) float crops in [0, 1] -> (N, k) p


def choose_strength(judge: Judge, crop: np.ndarray, edited: np.ndarray, names: list[str],
                    present: np.ndarray, mode: str, target: Target) -> Choice:
    """The strength for one face (see the module doc); ``present`` (k,) says which chosen
    attribute the attacker saw present before the edit."""
    def beliefs(strengths: np.ndarray) -> np.ndarray:
        mixes = crop[None] + strengths[:, None, None, None] * (edited - crop)[None]
        if target.after:
            u8 = torch.from_numpy(np.clip(mixes * 255 + 0.5, 0, 255).astype(np.uint8)).permute(0, 3, 1, 2)
            mixes = CHANNELS[target.after].apply(u8).permute(0, 2, 3, 1).numpy().astype(np.float32) / 255
        return judge(mixes.astype(np.float32))

    def score(p: np.ndarray) -> np.ndarray:
        # how far the worst attribute is from its goal (<= 0: reached), with a little slack
        # kept for what pasting, rounding and saving the photo change (SAFETY)
        if mode == "invert":
            margin = target.margin + SAFETY
            need = np.where(present, p - (0.5 - margin), (0.5 + margin) - p)
            return need.max(axis=1)
        return np.abs(p - 0.5).max(axis=1) - max(target.tolerance - SAFETY, target.tolerance / 2)

    coarse = np.linspace(0.0, 1.0, GRID + 1)
    p = beliefs(coarse)
    best = _pick(score(p), mode)
    low, high = coarse[max(best - 1, 0)], coarse[min(best + 1, GRID)]
    if mode == "invert":
        low, high = coarse[max(best - 1, 0)], coarse[best]
    fine = np.linspace(low, high, GRID + 1)
    p_fine = beliefs(fine)
    s_all = np.concatenate([coarse, fine])
    p_all = np.concatenate([p, p_fine])
    scores = score(p_all)
    i = _pick(scores, mode, s_all)
    return Choice(float(s_all[i]), bool(scores[i] <= 0), {n: float(v) for n, v in zip(names, p_all[i])})


def _pick(scores: np.ndarray, mode: str, strengths: np.ndarray | None = None) -> int:
    """invert: the smallest strength that reaches the goal (the largest if none does);
    obfuscate: the best score, the smallest strength among ties."""
    order = np.argsort(strengths, kind="stable") if strengths is not None else np.arange(len(scores))
    if mode == "invert":
        reached = [i for i in order if scores[i] <= 0]
        return int(reached[0]) if reached else int(order[-1])
    best = scores[order].min()
    return int(next(i for i in order if scores[i] <= best + 1e-9))
