"""Fidelity: how far each edit is from its input (mean L1 on [-1, 1] images, PSNR of the
8-bit images)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

L1 = "fidelity/label_free/l1"
L1_OBFUSCATED = "fidelity/obfuscated/l1"


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    header = ["Metric", "Edit"] + s.attributes + ["Mean"]
    rows = []
    for metric, title, digits in (("l1", "L1 ([-1,1])", 4), ("psnr", "PSNR (dB)", 2)):
        for k, path in enumerate(s.paths):
            name = f"fidelity/{path}/{metric}"
            rows.append([title if k == 0 else "", path] + [md.num(v, digits) for v in s.per(name).values()]
                        + [md.num(s.value(name), digits)])
    return ["## Fidelity of the edits to the input", ""] + md.table(header, rows)


@register_metric("fidelity", report=section)
def fidelity_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Mean L1 and PSNR of each edit path to its input."""
    return {p: {"l1": float(run.l1[p].mean()), "psnr": float(run.psnr[p].mean())} for p in col.paths}
