"""Privacy after sharing (``evaluate --reshare``): the same judgements with the originals and
the photo edits passed through a sharing channel (``infoscrub.sharing``) first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric
from infoscrub.evaluation.summaries import adversary, inversion, obfuscation

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary


def value_name(channel: str, key: str) -> str:
    """``value_name('jpeg75', 'inversion/correct/acc')``."""
    return f"reshare/{channel}/{key}"


def inversion_accuracy(channel: str) -> str:
    """The name of the label-free inversion Acc after ``channel`` on the 'correct' subset."""
    return value_name(channel, "inversion/correct/acc")


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    """One row per channel beside the unshared one; nothing without channels."""
    if not s.channels:
        return []
    from infoscrub.sharing import CHANNELS

    lines = ["## Privacy after sharing", "",
             "The same evaluation with the photos shared before the adversary judges them (the "
             "originals too). Inversion Acc: on the images it got right before editing and sharing; "
             "lower is better. Entropy: of its belief on the obfuscated attribute, higher is better.", ""]
    header = ["Channel", "Adversary accuracy, originals (%)", "Inversion Acc (%)", "Entropy originals (bits)",
              "Entropy obfuscated (bits)"]
    rows = [["none (as written)", md.pct(s.value(adversary.ACCURACY)), md.pct(s.value(inversion.ACCURACY)),
             md.num(s.value(obfuscation.ENTROPY_BEFORE)), md.num(s.value(obfuscation.ENTROPY_AFTER))]]
    for c in s.channels:
        rows.append([f"{c}: {CHANNELS[c].description}" if c in CHANNELS else c,
                     md.pct(s.value(value_name(c, "real_accuracy"))), md.pct(s.value(inversion_accuracy(c))),
                     md.num(s.value(value_name(c, "entropy/real"))), md.num(s.value(value_name(c, "entropy/ours")))])
    return lines + md.table(header, rows)


@register_metric("reshare", report=section)
def reshare_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any] | None:
    """Per sharing channel: the adversary's accuracy on the shared originals, the label-free
    inversion rates (the 'correct' subset is the unshared one: images it got right before
    editing and sharing) and the entropy after obfuscation; null without channels."""
    if not col.channels:
        return None
    correct = (run.p["real"][:, t] > 0.5) == run.labels
    out: dict[str, Any] = {}
    for c in col.channels:
        real = run.p[f"real@{c}"][:, t]
        entry: dict[str, Any] = {"real_accuracy": M.accuracy(real > 0.5, run.labels)}
        if f"label_free@{c}" in run.p:
            pred = run.p[f"label_free@{c}"][:, t] > 0.5
            entry["inversion"] = {"all": M.inversion_rates(pred, run.labels),
                                  "correct": M.inversion_rates(pred[correct], run.labels[correct])}
        if f"obfuscated@{c}" in run.p:
            after = run.p[f"obfuscated@{c}"][:, t]
            entry["entropy"] = {"real": float(M.entropy_bits(torch.from_numpy(real)).mean()),
                                "ours": float(M.entropy_bits(torch.from_numpy(after)).mean())}
        out[c] = entry
    return out
