"""Inversion (paper Tables 1/A1, 2 and 3): after inverting only the target attribute, the
share of images the adversary still assigns their original value (TPR on the images with the
attribute, TNR on those without, Acc on both), on the whole balanced subset ('all') and on
the images it judged right before editing ('correct': the paper's setting, Real = 100%)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation import paper_numbers as P
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

PATHS = ("label_free", "labelled")  # the edits that invert; 'real' is the unedited baseline
N_CORRECT = "inversion/n_correct"


def rate(path: str, subset: str, metric: str) -> str:
    """The name of one rate: ``rate('label_free', 'correct', 'acc')``."""
    return f"inversion/{path}/{subset}/{metric}"


ACCURACY = rate("label_free", "correct", "acc")  # the paper's Table 3 privacy when averaged
ACCURACY_ALL = rate("label_free", "all", "acc")


def _inversion_table(s: EvaluationSummary, subset: str, with_paper: bool) -> list[str]:
    header = ["Metric", "Method"] + s.attributes + ["Mean"]
    rows: list[list[str]] = []
    ours = [("real", "Real (unedited)"), ("label_free", "This model, label-free (photo path)"),
            ("labelled", "This model, labelled")]
    for metric in ("tpr", "tnr", "acc"):
        first = True
        for key, name in ours:
            if key != "real" and key not in s.paths:
                continue
            name_of = rate(key, subset, metric)
            cells = [md.pct(v) for v in s.per(name_of).values()] + [md.pct(s.value(name_of))]
            rows.append([f"{metric.upper() if metric != 'acc' else 'Acc'} (%)" if first else "", name] + cells)
            first = False
        if with_paper:
            for method in ("InfoScrub", "StarGAN", "IcGAN"):
                vals = [P.paper_inversion(metric, method, a) for a in s.attributes]
                mean = md.paper_mean(vals)
                rows.append(["", f"Paper: {method}"] + [md.paper(v) for v in vals]
                            + [md.num(mean, 1) if mean is not None else md.DASH])
    counts = [f"{s.value(rate('real', subset, 'n_pos'), a)}/{s.value(rate('real', subset, 'n_neg'), a)}"
              for a in s.attributes]
    rows.append(["n (pos/neg)", ""] + counts + [""])
    return md.table(header, rows)


def _ablation_table(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    header = ["Model"] + s.attributes + ["Mean"]
    rows = []
    names = {"d_attr": "Paper: D_attr (real-only classifier)", "d_attr_at": "Paper: D_attr + AT",
             "bidirectional": "Paper: Ours (bi-directional)"}
    for variant, name in names.items():
        vals = [P.PAPER_TABLE_2[variant].get(a) for a in s.attributes]
        mean = md.paper_mean(vals)
        rows.append([name] + [md.paper(v) for v in vals] + [md.DASH if mean is None else f"{mean:.2f}"])
    rows.append([md.model_label(record) + ", label-free"] + [md.pct(v, 2) for v in s.per(ACCURACY).values()]
                + [md.pct(s.value(ACCURACY), 2)])
    return md.table(header, rows)


def _tradeoff_table(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    header = ["Setting", "Privacy (lower is better)", "Utility (higher is better)"]
    rows = [[f"Paper, eps_s setting {i + 1} of 3 (value lost in the text)", md.num(r["privacy"], 3),
             md.num(r["utility"], 3)] for i, r in enumerate(P.PAPER_TABLE_3)]
    rows.append([md.model_label(record), md.num(s.privacy, 3), md.num(s.utility, 3)])
    return md.table(header, rows)


def sections(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    lines = ["## Inversion against the unseen adversary (paper Table 1 / A1)", "",
             "Share of images the adversary still assigns their original value after inverting only "
             "that attribute (lower is better). On the images the adversary gets right before editing "
             "(the paper's setting: Real = 100%):", ""]
    lines += _inversion_table(s, "correct", True)
    lines += ["On the whole balanced subsets (Real = the adversary's own TPR/TNR/accuracy):", ""]
    lines += _inversion_table(s, "all", False)
    lines += ["## Ablation (paper Table 2): Acc (%) after inversion", ""]
    lines += _ablation_table(s, record)
    lines += ["## Privacy / utility (paper Table 3)", ""]
    return lines + _tradeoff_table(s, record)


@register_metric("inversion", report=sections)
def inversion_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """{real, label_free, labelled}: each {all, correct} -> tpr/tnr/acc (fractions)."""
    correct = (run.p["real"][:, t] > 0.5) == run.labels
    out: dict[str, Any] = {}
    for key in ["real"] + [p for p in col.paths if p in PATHS]:
        pred = run.p[key][:, t] > 0.5
        out[key] = {"all": M.inversion_rates(pred, run.labels),
                    "correct": M.inversion_rates(pred[correct], run.labels[correct])}
    out["n_correct"] = int(correct.sum())
    return out
