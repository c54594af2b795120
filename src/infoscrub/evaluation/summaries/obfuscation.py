"""Obfuscation (paper Tables 4/A2): the adversary's entropy and p(present) on the target
attribute before ('real') and after ('ours') Stage II obfuscation, by ground truth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation import paper_numbers as P
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

UNAVAILABLE = ("Obfuscation not evaluated: this model has no Stage II mixer "
               "(obfuscation needs a stage2 checkpoint).")


def value_name(group: str, quantity: str, row: str) -> str:
    """The name of one value: ``value_name('all', 'entropy', 'ours')``."""
    return f"obfuscation/{group}/{quantity}/{row}"


ENTROPY_BEFORE = value_name("all", "entropy", "real")  # bits, over the whole balanced subset
ENTROPY_AFTER = value_name("all", "entropy", "ours")
ENTROPY_GAIN = value_name("all", "entropy", "gain")


def _table(s: EvaluationSummary) -> list[str]:
    header = ["Quantity", "Group", "Row"] + s.attributes + ["Mean"]
    rows = []
    for quantity, title, fmt in (("entropy", "Entropy (bits)", lambda v: md.num(v, 2)),
                                 ("p", "Probability (%)", lambda v: md.pct(v, 1))):
        first_q = True
        for group, gname in (("positive", "Positive"), ("negative", "Negative")):
            first_g = True
            for row, rname in (("real", "Real"), ("ours", "This model"), ("gain", "Gain")):
                name = value_name(group, quantity, row)
                cells = [fmt(v) for v in s.per(name).values()] + [fmt(s.value(name))]
                rows.append([title if first_q else "", gname if first_g else "", rname] + cells)
                first_q = first_g = False
                rows.append(_paper_row(s.attributes, group, quantity, row))
    return md.table(header, rows)


def _paper_row(attributes: list[str], group: str, quantity: str, row: str) -> list[str]:
    vals = [P.paper_obfuscation(group, quantity, row.capitalize(), a) for a in attributes]
    mean = md.paper_mean(vals)
    digits = 2 if quantity == "entropy" else 1
    return (["", "", f"Paper {row.capitalize()}"] + [md.paper(v, digits) for v in vals]
            + [md.DASH if mean is None else f"{mean:.{digits}f}"])


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    lines = ["## Obfuscation (paper Table 4 / A2)", ""]
    if "obfuscated" not in s.paths:
        return lines + [record.get("obfuscation_message") or "Obfuscation not evaluated.", ""]
    lines += ["Adversary entropy and p(present) before (Real) and after (This model; the paper's "
              "'Ours') obfuscation, by ground truth: Positive = the attribute is present. Gain: "
              "entropy ours - real; probability: movement toward 0.5 (Table 4's convention; Table A2 "
              "prints the Negative probability gain with a minus sign).", ""]
    return lines + _table(s)


@register_metric("obfuscation", needs=("obfuscated",), report=section)
def obfuscation_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Entropy (bits) and p(present) before ('real') / after ('ours') / 'gain', by group.

    Gains follow the paper's Table 4: entropy gain = ours - real; p gain = movement toward
    0.5, i.e. real - ours for the Positive group and ours - real for the Negative one."""
    before, after = run.p["real"][:, t], run.p["obfuscated"][:, t]
    h_before = M.entropy_bits(torch.from_numpy(before)).numpy()
    h_after = M.entropy_bits(torch.from_numpy(after)).numpy()
    out: dict[str, Any] = {}
    for group, sel, sign in (("positive", run.labels, -1.0), ("negative", ~run.labels, 1.0),
                             ("all", np.ones_like(run.labels), None)):
        if not sel.any():
            out[group] = {"n": 0, "entropy": None, "p": None}
            continue
        hb, ha = float(h_before[sel].mean()), float(h_after[sel].mean())
        pb, pa = float(before[sel].mean()), float(after[sel].mean())
        out[group] = {
            "n": int(sel.sum()),
            "entropy": {"real": hb, "ours": ha, "gain": ha - hb},
            "p": {"real": pb, "ours": pa, "gain": None if sign is None else sign * (pa - pb)},
        }
    return out
