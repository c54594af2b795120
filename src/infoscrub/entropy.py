"""Binary entropy in bits: the privacy reports' measure of an attacker's uncertainty.

Plain math at the bottom of the layers, so that the reports and the service can use it
without loading torch or the evaluation package (which has the tensor version).
"""

from __future__ import annotations

import math

EPSILON = 1e-12  # p closer than this to 0 or 1 counts as certain: entropy 0


def entropy_bits(p: float) -> float:
    """Entropy in bits of a yes/no belief p(present): 1 at p = 0.5, 0 at p in {0, 1}."""
    p = float(p)
    if p <= EPSILON or p >= 1.0 - EPSILON:
        return 0.0
    return -(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))
