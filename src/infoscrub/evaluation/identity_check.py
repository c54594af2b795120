"""Still the same person? Face-recognition distances between test faces and their edits
(``evaluate --identity``), measured during the pass (``evaluation.collect``)."""

from __future__ import annotations

import numpy as np
import torch

from infoscrub.evaluation.collected import SHARED_PATHS, AttributeRun


class IdentityCheck:
    """Face-recognition distances between the first ``faces`` images of each attribute's
    subset and their edits (label-free inversion, obfuscation), and to another person's
    image. The image set has no identities (CelebA-HQ), so 'another person' is the next
    image of the set: CelebA-HQ's 30,000 images show about 6,000 people, so such a pair is
    almost always two people. Originals are embedded once across attributes."""

    def __init__(self, embedder, image_set, faces: int = 100, threshold: float | None = None):
        from infoscrub.faces.identity import THRESHOLD

        self.embedder, self.image_set, self.faces = embedder, image_set, faces
        self.threshold = THRESHOLD if threshold is None else threshold
        self.cache: dict[int, np.ndarray] = {}

    def originals(self, indices: np.ndarray) -> np.ndarray:
        missing = [int(i) for i in indices if int(i) not in self.cache]
        if missing:
            images = self.image_set.images[torch.as_tensor(missing)].permute(0, 2, 3, 1).cpu().numpy()
            for i, e in zip(missing, self.embedder.embed(images, self.image_set.alignment)):
                self.cache[i] = e
        return np.stack([self.cache[int(i)] for i in indices])

    def measure(self, run: AttributeRun, rows: np.ndarray, quantised: dict[str, torch.Tensor]) -> None:
        """Distances for the batch at ``rows`` of ``run``'s subset (those among the first
        ``faces``); ``quantised``: the batch's uint8 edits by path."""
        from infoscrub.faces.identity import distances

        keep = rows < self.faces
        rows = rows[keep]
        if run.identity is None:
            n = min(self.faces, len(run.indices))
            run.identity = {key: np.zeros(n, np.float32) for key in ("different_person", *SHARED_PATHS)
                            if key == "different_person" or key in quantised}
        indices = run.indices[rows]
        mine = self.originals(indices)
        others = self.originals((indices + 1) % len(self.image_set))
        run.identity["different_person"][rows] = distances(mine, others)
        for path in SHARED_PATHS:
            if path in quantised:
                edited = quantised[path][torch.as_tensor(keep)].permute(0, 2, 3, 1).cpu().numpy()
                run.identity[path][rows] = distances(mine, self.embedder.embed(edited, self.image_set.alignment))
