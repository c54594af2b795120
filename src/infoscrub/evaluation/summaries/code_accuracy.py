"""How often an InfoScrub editor's own sensitive code reads the target attribute's label
right on the unedited images (null for editors without such a code: the baselines). Its
number is shown in the adversary's report section."""

from __future__ import annotations

from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric
from infoscrub.evaluation.summaries.adversary import CODE_ACCURACY


@register_metric(CODE_ACCURACY)
def code_accuracy(run: AttributeRun, col: Collected, t: int) -> float | None:
    """Share of images whose sensitive code reads the label right (InfoScrub editors only)."""
    return None if run.code_agrees is None else float(run.code_agrees.mean())
