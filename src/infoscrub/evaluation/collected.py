"""What one pass of the evaluation collects (``evaluation.collect``), typed: per target
attribute the adversary's p(present) before and after each edit, the edits' L1 and PSNR, a
few sample faces and, on request, identity distances; FID over the whole pass. The metrics
(``evaluation.summaries``) are computed from these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from infoscrub.evaluation.fid import FID_SKIPPED
from infoscrub.evaluation.samples import Samples

PATHS = ("label_free", "labelled", "obfuscated")
SHARED_PATHS = ("label_free", "obfuscated")  # the edits a photo gets, judged after sharing too


@dataclass
class AttributeRun:
    """Everything measured for one target attribute on its balanced subset."""

    attribute: str
    indices: np.ndarray  # positions in the image set
    labels: np.ndarray  # bool (n,): ground truth of the target attribute
    truth: np.ndarray  # bool (n, W): ground truth of the watched attributes
    p: dict[str, np.ndarray]  # 'real', each path and 'PATH@CHANNEL' -> (n, W) adversary p(present)
    l1: dict[str, np.ndarray]
    psnr: dict[str, np.ndarray]
    code_agrees: np.ndarray | None = None  # bool (n,): editor's code reads the label right
    samples: Samples = field(default_factory=Samples)
    # embedding distances to the input on the first rows: each edit path, and another
    # person's face ('different_person'); None without an identity check
    identity: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class FidResult:
    """FID of the label-free inversions (``value``) and of the obfuscations vs the real images;
    ``message`` says why it was skipped (no weights), else None."""

    value: float | None = None
    obfuscated: float | None = None
    message: str | None = FID_SKIPPED
    n_real: int = 0
    n_edited: int = 0

    def as_dict(self) -> dict[str, Any]:
        """``metrics.json``'s fid_info."""
        return asdict(self)


@dataclass
class Collected:
    attributes: list[str]
    watch: list[str]  # attributes whose adversary outputs are kept (targets + editor's)
    utility_attributes: list[str]  # the editor's attributes the adversary knows
    paths: list[str]
    runs: dict[str, AttributeRun]
    n_union: int
    fid: FidResult
    seconds: dict[str, float]
    channels: tuple[str, ...] = ()  # sharing channels the edits were also judged after
    identity_threshold: float | None = None  # distance below it: the same person
