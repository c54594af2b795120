"""Attribute losses: code regression, the bi-directional classifier losses and utility.

Routing (SPEC section 2): an edited attribute with original label 1 (a 1->0 edit) is judged
by C_pn (head 0); one with label 0 (a 0->1 edit) by C_np (head 1). Fakes keep their
*original* label when the discriminator learns from them, which pulls C_pn's boundary tight
around real negatives and C_np's around real positives; the generator must then move x'
into the dense region of the target class to fool them (no partial inversion).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

VARIANTS = ("bidirectional", "d_attr", "d_attr_at")
PN, NP = 0, 1  # head indices of the bi-directional discriminator


def heads_for(variant: str) -> int:
    """Number of attribute-classifier heads a discriminator needs for ``variant``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return 2 if variant == "bidirectional" else 1


def summed_bce(logits: torch.Tensor, targets: torch.Tensor | float, weight: torch.Tensor) -> torch.Tensor:
    """BCE-with-logits summed over the entries, each times its ``weight``."""
    if not torch.is_tensor(targets):
        targets = torch.full_like(logits, float(targets))
    loss = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    return (loss * weight.float()).sum()


def masked_bce(logits: torch.Tensor, targets: torch.Tensor | float, weight: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits over the entries where ``weight`` is non-zero (0 if none)."""
    return summed_bce(logits, targets, weight) / weight.float().sum().clamp_min(1.0)


def direction_weights(labels: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(pos->neg, neg->pos) 0/1 weights of the edited entries."""
    mask = mask.float()
    return mask * labels, mask * (1.0 - labels)


def code_loss(code: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 7: mean squared error between the sensitive code a and the labels c."""
    return F.mse_loss(code.float(), labels.float())


def attribute_loss_d_real(cls_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Every head learns the real labels: BCE(C_pn(x), c) + BCE(C_np(x), c)."""
    ones = torch.ones_like(labels)
    return sum(masked_bce(cls_logits[:, h], labels, ones) for h in range(cls_logits.shape[1]))


def attribute_loss_d_fake(cls_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                          variant: str) -> torch.Tensor:
    """Adversarial attribute training on fakes x' (only edited attributes count).

    bidirectional: 1->0 edits teach C_pn that x' is still positive; 0->1 edits teach C_np
    that x' is still negative. d_attr_at: the single head learns the original label.
    d_attr: classifiers never see fakes.
    """
    if variant == "d_attr":
        return cls_logits.sum() * 0.0
    if variant == "d_attr_at":
        return masked_bce(cls_logits[:, 0], labels, mask)
    pn, np_ = direction_weights(labels, mask)
    edited = mask.float().sum().clamp_min(1.0)
    total = (
        masked_bce(cls_logits[:, PN], 1.0, pn) * pn.sum()
        + masked_bce(cls_logits[:, NP], 0.0, np_) * np_.sum()
    )
    return total / edited


def attribute_loss_g(cls_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                     variant: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The generator wants each edited attribute judged as its inverted value: the mean over
    the edits, each edit of attribute j counting ``weights[j]`` times (default 1)."""
    edited = mask.float().sum().clamp_min(1.0)
    counted = mask.float() if weights is None else mask.float() * weights.float()
    if variant != "bidirectional":
        return summed_bce(cls_logits[:, 0], 1.0 - labels, counted) / edited
    pn, np_ = direction_weights(labels, counted)
    return (summed_bce(cls_logits[:, PN], 0.0, pn) + summed_bce(cls_logits[:, NP], 1.0, np_)) / edited


def utility_loss(cls_logits_edit: torch.Tensor, cls_logits_rec: torch.Tensor, labels: torch.Tensor,
                 mask: torch.Tensor, eps_s: float, eps_r: float) -> torch.Tensor:
    """Eq. 13: non-edited attributes survive the edit (margin eps_s) and reconstruction
    keeps every attribute (margin eps_r). C = mean of the heads' logits."""
    keep = 1.0 - mask.float()
    edit_term = masked_bce(cls_logits_edit.mean(1), labels, keep)
    rec_term = masked_bce(cls_logits_rec.mean(1), labels, torch.ones_like(labels))
    return F.relu(edit_term - eps_s) + F.relu(rec_term - eps_r)


def max_entropy_loss(cls_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                     target: float = 0.5) -> torch.Tensor:
    """Eq. 16 (Stage II): every head predicts ``target`` (0.5 = maximal entropy) on the
    obfuscated attributes and the true label on the others."""
    mask = mask.float()
    goal = mask * target + (1.0 - mask) * labels
    ones = torch.ones_like(labels)
    heads = cls_logits.shape[1]
    return sum(masked_bce(cls_logits[:, h], goal, ones) for h in range(heads)) / heads
