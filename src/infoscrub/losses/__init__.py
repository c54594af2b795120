"""Loss functions of InfoScrub (SPEC section 2), each a small function on tensors.

Classifier logits have shape (B, H, n): H = 2 heads (C_pn, C_np) for the bi-directional
discriminator, H = 1 for the ablations; n = number of chosen attributes.
"""

from infoscrub.losses.attribute import (
    VARIANTS,
    attribute_loss_d_fake,
    attribute_loss_d_real,
    attribute_loss_g,
    code_loss,
    direction_weights,
    masked_bce,
    max_entropy_loss,
    utility_loss,
)
from infoscrub.losses.image import (
    content_hinge_loss,
    hinge_d_loss,
    hinge_g_loss,
    reconstruction_loss,
)

__all__ = [
    "VARIANTS",
    "attribute_loss_d_fake",
    "attribute_loss_d_real",
    "attribute_loss_g",
    "code_loss",
    "content_hinge_loss",
    "direction_weights",
    "hinge_d_loss",
    "hinge_g_loss",
    "masked_bce",
    "max_entropy_loss",
    "reconstruction_loss",
    "utility_loss",
]
