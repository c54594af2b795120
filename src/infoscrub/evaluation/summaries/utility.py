"""Utility (paper Table 3's second column): the adversary's accuracy on the editor's
attributes that were not edited, before and after each edit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

ACCURACY = "utility/label_free"  # after label-free inversion: the paper's Table 3 utility when averaged
UNEDITED = "utility/real"


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    header = ["Images"] + s.attributes + ["Mean"]
    rows = []
    for key, name in (("real", "Real (unedited)"), ("label_free", "Inverted, label-free"),
                      ("labelled", "Inverted, labelled"), ("obfuscated", "Obfuscated")):
        if key != "real" and key not in s.paths:
            continue
        rows.append([name] + [md.pct(v) for v in s.per(f"utility/{key}").values()]
                    + [md.pct(s.value(f"utility/{key}"))])
    return ["## Utility: adversary accuracy (%) on the attributes not edited", ""] + md.table(header, rows)


@register_metric("utility", report=section)
def utility_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Adversary accuracy on the editor's attributes that were not edited."""
    others = [a for a in col.utility_attributes if a != run.attribute]
    out: dict[str, Any] = {"attributes": others}
    if not others:
        out.update({k: None for k in ["real"] + col.paths})
        return out
    cols = [col.watch.index(a) for a in others]
    truth = run.truth[:, cols]
    for key in ["real"] + col.paths:
        out[key] = M.accuracy(run.p[key][:, cols] > 0.5, truth)
    return out
