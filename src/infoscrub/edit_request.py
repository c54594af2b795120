"""What every editor accepts, checked in one place: the edit mode and the strength.

Torch-free, so the photo pipeline and the service can check a request before loading models.
"""

from __future__ import annotations

import math

from infoscrub.errors import InfoscrubError

MODES = ("invert", "obfuscate")


def check_edit_request(mode: str, strength: float) -> float:
    """Validate ``mode`` and ``strength`` (the fraction of the change applied, 0-1)."""
    if mode not in MODES:
        raise InfoscrubError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    strength = float(strength)
    if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise InfoscrubError(f"strength must be between 0 and 1, got {strength}")
    return strength
