"""What every face editor offers (InfoScrub's own and the baselines'): the evaluation, the
scrubber and the service call these methods and never ask which editor they have.

``edit`` changes chosen attributes of aligned faces in [-1, 1]; ``edit_paths`` produces, for
one target attribute, every image the evaluation protocol judges in one go: ``label_free``
(the current values read by the model, what a photo gets), ``labelled`` (the current values
from labels) and ``obfuscated`` (Stage II). An editor that can share work between the
paths (InfoScrub: one encoder pass) overrides it; others inherit ``EditsOneByOne``.
"""

from __future__ import annotations

from typing import Protocol

import torch

from infoscrub.errors import InfoscrubError

Extras = dict[str, torch.Tensor | None]


def require_mixer(editor) -> None:
    """Obfuscation needs Stage II's mixer: a one-line error for an editor without one."""
    if not getattr(editor, "can_obfuscate", False):
        raise InfoscrubError("these weights cannot obfuscate: they have no Stage II mixer "
                             "(obfuscation needs a stage2 checkpoint)")


class FaceEditor(Protocol):
    attributes: list[str]
    alignment: str
    image_size: int
    device: torch.device
    can_obfuscate: bool

    def codes(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, n) the model's reading of each attribute, > 0.5 = present."""

    def edit(self, faces: torch.Tensor, attributes: list[str], mode: str = "invert",
             strength: float = 1.0, labels: torch.Tensor | None = None) -> torch.Tensor: ...

    def edit_paths(self, x: torch.Tensor, attribute: str, labels: torch.Tensor | None,
                   paths: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], Extras]:
        """(images per path, extras): extras['labelled_rows'] names the rows 'labelled' holds
        when it holds only those whose labelled edit differs from the label-free one (None:
        all rows); extras['alpha'] is the mixer's alpha or None; extras['code_agrees'] the
        rows where the model reads the label right, or None."""


class EditsOneByOne:
    """``edit_paths`` through ``edit``, one path after the other (no shared work)."""

    @torch.no_grad()
    def edit_paths(self, x: torch.Tensor, attribute: str, labels: torch.Tensor | None,
                   paths: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], Extras]:
        out: dict[str, torch.Tensor] = {}
        if "label_free" in paths:
            out["label_free"] = self.edit(x, [attribute], "invert")
        if "labelled" in paths:
            out["labelled"] = self.edit(x, [attribute], "invert", labels=labels)
        if "obfuscated" in paths:
            out["obfuscated"] = self.edit(x, [attribute], "obfuscate")
        return out, {"alpha": None, "labelled_rows": None, "code_agrees": None}
