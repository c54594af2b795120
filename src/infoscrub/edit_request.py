"""What every editor accepts, checked in one place: the edit mode and the strength, and the
request that carries them through every flow (a photo, an album, the service, bulk).

Torch-free, so the photo pipeline and the service can check a request before loading models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class Target:
    """A goal for the strength chosen per face (``infoscrub.targeting``)."""

    margin: float = 0.2  # invert: the belief must cross 0.5 by this much
    tolerance: float = 0.05  # obfuscate: |p - 0.5| within this counts as reached
    after: str | None = None  # a sharing channel the goal must survive (jpeg75, ...)

    def describe(self, mode: str) -> str:
        goal = (f"the attacker's belief crosses 0.5 by {self.margin:g}" if mode == "invert"
                else f"the attacker's belief within {self.tolerance:g} of 0.5")
        return goal + (f" after {self.after}" if self.after else "")


@dataclass(frozen=True)
class EditRequest:
    """What to change in the chosen faces. ``attributes``: names or one comma-separated
    string, as a person gives them (the scrubber resolves them against its model);
    ``target``: instead of ``strength``, the smallest strength per face reaching the goal."""

    attributes: str | Sequence[str]
    mode: str = "invert"
    strength: float = 1.0
    target: Target | None = None

    def checked(self) -> "EditRequest":
        """The same request with its mode and strength validated (strength as a float)."""
        return replace(self, strength=check_edit_request(self.mode, self.strength))
