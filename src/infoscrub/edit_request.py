"""What every editor accepts, checked in one place: the edit mode and the strength, the
randomised defences against an attacker who knows infoscrub, and the request that carries
them through every flow (a photo, an album, the service, bulk).

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
class Randomise:
    """Randomness drawn per face, so that an attacker who knows infoscrub cannot learn one
    fixed map back (docs/privacy.md measures what each buys). ``seed`` None: fresh secret
    randomness on every scrub (the product); a number: repeatable (measurement, tests)."""

    strength_low: float | None = None  # a random strength per face, uniform in [this, the strength]
    extra_flip: float = 0.0  # each attribute not chosen is also edited with this probability
    alpha_noise: float = 0.0  # obfuscate: Gaussian noise of this std on the mixing map
    seed: int | None = None

    KEYS = {"strength": "strength_low", "extra": "extra_flip", "noise": "alpha_noise"}

    def check(self, mode: str, strength: float) -> None:
        if self.strength_low is not None and not 0.0 <= self.strength_low <= strength:
            raise InfoscrubError(f"randomise strength={self.strength_low:g} must lie between 0 and the "
                                 f"strength ({strength:g})")
        if not 0.0 <= self.extra_flip <= 1.0:
            raise InfoscrubError(f"randomise extra is a probability (0-1), not {self.extra_flip:g}")
        if not (math.isfinite(self.alpha_noise) and self.alpha_noise >= 0.0):
            raise InfoscrubError(f"randomise noise is a standard deviation (0 or more), not {self.alpha_noise:g}")
        if self.alpha_noise and mode != "obfuscate":
            raise InfoscrubError("randomise noise perturbs obfuscation's mixing map; it needs --mode obfuscate")

    @property
    def active(self) -> bool:
        return self.strength_low is not None or self.extra_flip != 0 or self.alpha_noise != 0

    def describe(self, strength: float) -> str:
        """'strength U[0.5, 1], 30% extra flips, mixing noise 0.2' ('' when nothing is drawn)."""
        parts = []
        if self.strength_low is not None:
            parts.append(f"strength U[{self.strength_low:g}, {strength:g}]")
        if self.extra_flip:
            parts.append(f"{self.extra_flip:.0%} extra flips")
        if self.alpha_noise:
            parts.append(f"mixing noise {self.alpha_noise:g}")
        return ", ".join(parts)

    def settings(self) -> dict[str, float]:
        """The randomise keys that are set, as given ({'strength': 0.5, 'extra': 0.3})."""
        values = {"strength": self.strength_low, "extra": self.extra_flip or None,
                  "noise": self.alpha_noise or None}
        return {k: v for k, v in values.items() if v is not None}


def parse_randomise(text: str, seed: int | None = None) -> Randomise:
    """'strength=0.5,extra=0.3,noise=0.2' -> Randomise (unchecked: the mode and strength
    check it). ``strength``: the low end of a random strength per face; ``extra``: the
    probability of editing each further attribute; ``noise``: the std on the mixing map."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = (p.strip() for p in item.partition("="))
        if not eq or key not in Randomise.KEYS:
            raise InfoscrubError(f"randomise takes key=value pairs with keys {', '.join(Randomise.KEYS)}; "
                                 f"not {item!r}")
        try:
            number = float(value)
        except ValueError:
            raise InfoscrubError(f"randomise {key} takes a number, not {value!r}") from None
        if not math.isfinite(number):
            raise InfoscrubError(f"randomise {key} takes a finite number, not {value!r}")
        values[Randomise.KEYS[key]] = number
    if not values:
        raise InfoscrubError("randomise names nothing to draw (strength=, extra=, noise=)")
    return Randomise(**values, seed=seed)


@dataclass(frozen=True)
class EditRequest:
    """What to change in the chosen faces. ``attributes``: names or one comma-separated
    string, as a person gives them (the scrubber resolves them against its model);
    ``target``: instead of ``strength``, the smallest strength per face reaching the goal;
    ``randomise``: what is drawn afresh for every face."""

    attributes: str | Sequence[str]
    mode: str = "invert"
    strength: float = 1.0
    target: Target | None = None
    randomise: Randomise | None = None

    def checked(self) -> "EditRequest":
        """The same request with its mode, strength and randomness validated (strength as a
        float; a randomness that draws nothing dropped)."""
        strength = check_edit_request(self.mode, self.strength)
        randomise = self.randomise if self.randomise is not None and self.randomise.active else None
        if randomise is not None:
            randomise.check(self.mode, strength)
            if randomise.strength_low is not None and self.target is not None:
                raise InfoscrubError("a target chooses each face's strength; it cannot also be drawn at random "
                                     "(drop --randomise strength= or --target)")
        return replace(self, strength=strength, randomise=randomise)
