"""The adversary on the unedited balanced subset: its accuracy and calibration (ECE), how
many images it judged right (inversion's 'correct' subset) and, for InfoScrub editors, how
often the editor's own code reads the label right (``code_accuracy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric
from infoscrub.evaluation.summaries import inversion

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

ACCURACY = "adversary/accuracy"
ECE = "adversary/ece"
# registered after reshare by summaries/code_accuracy.py (its place in metrics.json), shown here
CODE_ACCURACY = "code_accuracy"


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    rows = [["Adversary accuracy, unedited (%)"] + [md.pct(v) for v in s.per(ACCURACY).values()],
            ["Adversary ECE, unedited"] + [md.num(v, 3) for v in s.per(ECE).values()],
            ["Adversary right before editing (n)"] + [str(v) for v in s.per(inversion.N_CORRECT).values()],
            ["Editor's code reads the label right (%)"] + [md.pct(v) for v in s.per(CODE_ACCURACY).values()]]
    return (["## The adversary and the editor on unedited images", ""]
            + md.table(["Quantity"] + s.attributes, rows))


@register_metric("adversary", report=section)
def adversary_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """The adversary's accuracy and calibration on the unedited balanced subset."""
    return {"accuracy": M.accuracy(run.p["real"][:, t] > 0.5, run.labels),
            "ece": M.expected_calibration_error(run.p["real"][:, t], run.labels)}
