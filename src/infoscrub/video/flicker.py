"""How much a scrubbed clip flickers: the frame-to-frame change of the pasted edit on each
face, against the source face's own change.

Each face is followed in its own coordinates: the frame is cut under the face's 2x3 matrix
(frame -> a ``size``-px square on the face: the tracker's alignment, or a synthetic clip's
true placement), so the face's motion is taken out. On a frame the edit is D_t = output_t -
source_t there. A steady edit stays the same from one frame to the next: mean |D_t - D_{t-1}|
is small; a flickering one (another reading of the attributes, another mixing map, a
jittering paste) changes. Both are compared at a quarter of ``size`` (4x4-pixel means): a
camera's grain and the encoder's noise, which an edit that smooths them passes on as a
pixel-level change, average out, while a glint, a shadow or a shape that comes and goes
does not. The source face's own change, mean |source_t - source_{t-1}| in
the same coordinates (noise, light, expression, what the motion compensation misses), is the
scale. ``ratio`` = the first over the second. Every method compared is measured under the
same matrices, so the numbers compare the edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infoscrub.faces.crops import cut_crop

SIZE = 64  # the side of the square each face is cut at
BLOCK = 4  # ... and compared in means of BLOCK x BLOCK pixels


@dataclass
class FlickerMeter:
    size: int = SIZE
    per_face: dict[int, list[float]] = field(default_factory=dict)  # id -> [edit sum, source sum, pixels, pairs]
    _last: dict[int, tuple[int, np.ndarray, np.ndarray]] = field(default_factory=dict)  # id -> (frame, source, edit)

    def add(self, index: int, source: np.ndarray, output: np.ndarray, faces: dict[int, np.ndarray]) -> None:
        """Frame ``index`` (uint8 RGB before and after) with the matrix of every face on it,
        each compared with its own previous frame when that was the frame just before."""
        for face, matrix in faces.items():
            now_source = coarse(cut_crop(source, matrix, self.size) * 255.0)
            now_edit = coarse(cut_crop(output, matrix, self.size) * 255.0) - now_source
            last = self._last.get(face)
            self._last[face] = (index, now_source, now_edit)
            if last is None or last[0] != index - 1:
                continue
            entry = self.per_face.setdefault(int(face), [0.0, 0.0, 0, 0])
            entry[0] += float(np.abs(now_edit - last[2]).sum())
            entry[1] += float(np.abs(now_source - last[1]).sum())
            entry[2] += int(now_edit.size)
            entry[3] += 1

    def summary(self, faces: list[int] | None = None) -> dict[str, float | int | None]:
        """The flicker of these faces together (None: all), in 0-255 levels per pixel and channel."""
        rows = [self.per_face[f] for f in (self.per_face if faces is None else faces) if f in self.per_face]
        pixels = sum(r[2] for r in rows)
        if not pixels:
            return {"edit_change": None, "source_change": None, "ratio": None, "pairs": 0}
        edit, moved = sum(r[0] for r in rows) / pixels, sum(r[1] for r in rows) / pixels
        return {"edit_change": round(edit, 4), "source_change": round(moved, 4),
                "ratio": round(edit / moved, 4) if moved > 0 else None, "pairs": int(sum(r[3] for r in rows))}


def coarse(crop: np.ndarray) -> np.ndarray:
    """(S, S, 3) -> (S / BLOCK, S / BLOCK, 3) block means."""
    side = crop.shape[0] // BLOCK
    return crop[:side * BLOCK, :side * BLOCK].reshape(side, BLOCK, side, BLOCK, 3).mean(axis=(1, 3))
