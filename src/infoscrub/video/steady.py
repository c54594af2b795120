"""A steady edit: each face's change averaged over a centred window of frames.

The editor is a function of the face crop, and two frames never give exactly the same crop
(grain, the encoder, a sub-pixel shift of the alignment, light), so the change it makes
jitters from frame to frame even on a still face. Crops are cut in the face's own
coordinates, so a pixel of one frame's change is the same place on the face as the same
pixel of the next frame's: averaging the changes over time keeps what lasts (the edit) and
damps what does not (the jitter). The window is centred (frames before and after, a
Gaussian of ``sigma`` frames), so a change that follows the face (a smile that forms)
is not dragged behind it the way a running average would; the scrubbing pass runs
``reach`` frames behind the model to have the frames after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EditSmoother:
    sigma: float  # the Gaussian's sigma over time, in frames (0: every frame its own change)
    changes: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # track -> frame -> change

    @property
    def reach(self) -> int:
        """Frames on each side of a frame that its steady change takes in."""
        return math.ceil(2.0 * self.sigma) if self.sigma > 0 else 0

    def add(self, track: int, frame: int, change: np.ndarray) -> None:
        self.changes.setdefault(track, {})[frame] = change

    def steady(self, track: int, frame: int) -> np.ndarray:
        """The change to paste on ``frame``: the Gaussian-weighted mean of the track's
        changes on the frames within ``reach`` of it (those it was edited on; at a track's
        start and end, the frames it has)."""
        own = self.changes[track]
        if not self.reach:
            return own[frame]
        total, weight = None, 0.0
        for other in range(frame - self.reach, frame + self.reach + 1):
            change = own.get(other)
            if change is None:
                continue
            w = math.exp(-0.5 * ((other - frame) / self.sigma) ** 2)
            total = change * w if total is None else total + change * w
            weight += w
        return total / weight

    def forget(self, before: int) -> None:
        """Drop the changes no frame from ``before`` on will take in."""
        for track in list(self.changes):
            own = self.changes[track]
            for frame in [f for f in own if f < before - self.reach]:
                del own[frame]
            if not own:
                del self.changes[track]
