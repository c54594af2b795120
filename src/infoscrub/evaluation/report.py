"""The markdown report of an evaluation, and the structure of ``metrics.json``.

``metrics.json`` (format "infoscrub-evaluation", version 1). Rates, accuracies and
probabilities are fractions in [0, 1]; entropies in bits; L1 on [-1, 1] images (mean
absolute difference per pixel and channel); PSNR in dB of the 8-bit images; a value that
cannot be computed (empty group, no weights) is null::

    format, version
    model:      {checkpoint, kind, variant, steps, attributes, alignment, image_size, can_obfuscate}
                (kind: stage1 | stage2 | stargan | icgan | ...; variant: bidirectional |
                 d_attr | d_attr_at | null; steps: training step of the checkpoint)
    adversary:  {checkpoint, attributes (count)}
    data:       {root, split, n_images (split size), n_union (images judged), per_attribute, seed}
    attributes: [target attribute names, in order]
    paths:      ["label_free", "labelled", "obfuscated"?]
    per_attribute: {ATTRIBUTE: ENTRY}
    mean:       ENTRY-shaped means over the attributes (counts and lists dropped)
    privacy:    mean label-free Acc on the 'correct' subsets (paper Table 3 privacy)
    privacy_all: mean label-free Acc on the whole balanced subsets
    utility:    mean label-free accuracy on the non-target attributes (paper Table 3 utility)
    fid:        FID of the label-free inversions vs the real images, or null
    fid_info:   {value, obfuscated (FID of obfuscations), message (why skipped, else null),
                 n_real, n_edited}
    fid_weights, obfuscation_available, obfuscation_message
    throughput: {images_edited, seconds, images_per_second, device}
    seconds:    {adversary_real, edit_and_judge, fid?, figures}
    figures:    [paths relative to the output folder]

    ENTRY = {
      n, n_pos, n_neg,                               # balanced subset
      inversion: {
        real | label_free | labelled: {
          all | correct: {tpr, tnr, acc, n_pos, n_neg}},   # 'correct': adversary right before editing
        n_correct},
      obfuscation: null | {                          # null when the model cannot obfuscate
        positive | negative | all: {n,
          entropy: {real, ours, gain},               # gain = ours - real
          p: {real, ours, gain}}},                   # p(present); gain = movement toward 0.5 (null for 'all')
      utility: {attributes (non-target ones), real, label_free, labelled, obfuscated?},
      fidelity: {label_free | labelled | obfuscated: {l1, psnr}},
      adversary: {accuracy, ece},                    # on the unedited balanced subset
      code_accuracy                                  # share where the editor's code reads the label right (InfoScrub only)
    }
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infoscrub.evaluation import paper_numbers as P
from infoscrub.evaluation.fid import FID_SKIPPED

FORMAT = "infoscrub-evaluation"
VERSION = 1
DASH = "–"


def _pct(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{100 * v:.{digits}f}"


def _num(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else f"{v:.{digits}f}"


def _paper(v: float | None, digits: int | None = None) -> str:
    """A paper number as printed (at least one decimal: 6.0, 5.69, 39.0), or fixed digits."""
    if v is None:
        return DASH
    if digits is not None:
        return f"{v:.{digits}f}"
    text = f"{v:g}"
    return text if "." in text or "e" in text else f"{v:.1f}"


def _paper_mean(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values) / len(values)


def metric_at(d: Any, *keys: str) -> Any:
    """The value at ``keys`` in nested metrics dicts, or None where any level is missing."""
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines + [""]


def model_label(m: dict[str, Any]) -> str:
    model = m.get("model", {})
    parts = [str(model.get("kind"))]
    if model.get("variant"):
        parts.append(str(model["variant"]))
    return "This model (" + ", ".join(parts) + ")"


def _inversion_table(m: dict[str, Any], subset: str, with_paper: bool) -> list[str]:
    attrs = m["attributes"]
    per, mean = m["per_attribute"], m["mean"]
    header = ["Metric", "Method"] + attrs + ["Mean"]
    rows: list[list[str]] = []
    ours = [("real", "Real (unedited)"), ("label_free", "This model, label-free (photo path)"),
            ("labelled", "This model, labelled")]
    for metric in ("tpr", "tnr", "acc"):
        first = True
        for key, name in ours:
            if key != "real" and key not in m["paths"]:
                continue
            cells = [_pct(metric_at(per[a], "inversion", key, subset, metric)) for a in attrs]
            cells.append(_pct(metric_at(mean, "inversion", key, subset, metric)))
            rows.append([f"{metric.upper() if metric != 'acc' else 'Acc'} (%)" if first else "", name] + cells)
            first = False
        if with_paper:
            for method in ("InfoScrub", "StarGAN", "IcGAN"):
                vals = [P.paper_inversion(metric, method, a) for a in attrs]
                rows.append(["", f"Paper: {method}"] + [_paper(v) for v in vals]
                            + [_num(_paper_mean(vals), 1) if _paper_mean(vals) is not None else DASH])
    counts = [f"{metric_at(per[a], 'inversion', 'real', subset, 'n_pos')}/{metric_at(per[a], 'inversion', 'real', subset, 'n_neg')}"
              for a in attrs]
    rows.append(["n (pos/neg)", ""] + counts + [""])
    return _table(header, rows)


def _ablation_table(m: dict[str, Any]) -> list[str]:
    attrs = m["attributes"]
    per = m["per_attribute"]
    header = ["Model"] + attrs + ["Mean"]
    rows = []
    names = {"d_attr": "Paper: D_attr (real-only classifier)", "d_attr_at": "Paper: D_attr + AT",
             "bidirectional": "Paper: Ours (bi-directional)"}
    for variant, name in names.items():
        vals = [P.PAPER_TABLE_2[variant].get(a) for a in attrs]
        mean = _paper_mean(vals)
        rows.append([name] + [_paper(v) for v in vals] + [DASH if mean is None else f"{mean:.2f}"])
    ours = [metric_at(per[a], "inversion", "label_free", "correct", "acc") for a in attrs]
    rows.append([model_label(m) + ", label-free"] + [_pct(v, 2) for v in ours]
                + [_pct(metric_at(m["mean"], "inversion", "label_free", "correct", "acc"), 2)])
    return _table(header, rows)


def _tradeoff_table(m: dict[str, Any]) -> list[str]:
    header = ["Setting", "Privacy (lower is better)", "Utility (higher is better)"]
    rows = [[f"Paper, eps_s setting {i + 1} of 3 (value lost in the text)", _num(r["privacy"], 3),
             _num(r["utility"], 3)] for i, r in enumerate(P.PAPER_TABLE_3)]
    rows.append([model_label(m), _num(m.get("privacy"), 3), _num(m.get("utility"), 3)])
    return _table(header, rows)


def _obfuscation_table(m: dict[str, Any]) -> list[str]:
    attrs = m["attributes"]
    per, mean = m["per_attribute"], m["mean"]
    header = ["Quantity", "Group", "Row"] + attrs + ["Mean"]
    rows = []
    for quantity, title, fmt in (("entropy", "Entropy (bits)", lambda v: _num(v, 2)),
                                 ("p", "Probability (%)", lambda v: _pct(v, 1))):
        first_q = True
        for group, gname in (("positive", "Positive"), ("negative", "Negative")):
            first_g = True
            for row, rname in (("real", "Real"), ("ours", "This model"), ("gain", "Gain")):
                cells = [fmt(metric_at(per[a], "obfuscation", group, quantity, row)) for a in attrs]
                cells.append(fmt(metric_at(mean, "obfuscation", group, quantity, row)))
                rows.append([title if first_q else "", gname if first_g else "", rname] + cells)
                first_q = first_g = False
                vals = [P.paper_obfuscation(group, quantity, row.capitalize(), a) for a in attrs]
                pm = _paper_mean(vals)
                digits = 2 if quantity == "entropy" else 1
                rows.append(["", "", f"Paper {row.capitalize()}"] + [_paper(v, digits) for v in vals]
                            + [DASH if pm is None else (f"{pm:.2f}" if quantity == "entropy" else f"{pm:.1f}")])
    return _table(header, rows)


def _utility_table(m: dict[str, Any]) -> list[str]:
    attrs = m["attributes"]
    per, mean = m["per_attribute"], m["mean"]
    header = ["Images"] + attrs + ["Mean"]
    rows = []
    for key, name in (("real", "Real (unedited)"), ("label_free", "Inverted, label-free"),
                      ("labelled", "Inverted, labelled"), ("obfuscated", "Obfuscated")):
        if key != "real" and key not in m["paths"]:
            continue
        rows.append([name] + [_pct(metric_at(per[a], "utility", key)) for a in attrs]
                    + [_pct(metric_at(mean, "utility", key))])
    return _table(header, rows)


def _fidelity_table(m: dict[str, Any]) -> list[str]:
    attrs = m["attributes"]
    per, mean = m["per_attribute"], m["mean"]
    header = ["Metric", "Edit"] + attrs + ["Mean"]
    rows = []
    for metric, name, digits in (("l1", "L1 ([-1,1])", 4), ("psnr", "PSNR (dB)", 2)):
        first = True
        for key in m["paths"]:
            rows.append([name if first else "", key] + [_num(metric_at(per[a], "fidelity", key, metric), digits)
                                                          for a in attrs]
                        + [_num(metric_at(mean, "fidelity", key, metric), digits)])
            first = False
    return _table(header, rows)


def _adversary_table(m: dict[str, Any]) -> list[str]:
    attrs = m["attributes"]
    per = m["per_attribute"]
    header = ["Quantity"] + attrs
    rows = [["Adversary accuracy, unedited (%)"] + [_pct(metric_at(per[a], "adversary", "accuracy")) for a in attrs],
            ["Adversary ECE, unedited"] + [_num(metric_at(per[a], "adversary", "ece"), 3) for a in attrs],
            ["Adversary right before editing (n)"] + [str(metric_at(per[a], "inversion", "n_correct")) for a in attrs],
            ["Editor's code reads the label right (%)"] + [_pct(metric_at(per[a], "code_accuracy")) for a in attrs]]
    return _table(header, rows)


def render_report(m: dict[str, Any]) -> str:
    model, data = m.get("model", {}), m.get("data", {})
    lines = ["# infoscrub evaluation", ""]
    lines += [f"- Model: `{model.get('checkpoint')}` — kind {model.get('kind')}, variant "
              f"{model.get('variant') or DASH}, step {model.get('steps') if model.get('steps') is not None else DASH}, "
              f"{len(model.get('attributes', []))} attributes, {model.get('alignment')} alignment, "
              f"{model.get('image_size')}px",
              f"- Adversary: `{metric_at(m, 'adversary', 'checkpoint')}`",
              f"- Data: `{data.get('root')}`, split {data.get('split')} ({data.get('n_images')} images); "
              f"balanced subsets of at most {data.get('per_attribute') or 'all'} per class, seed "
              f"{data.get('seed')}; {data.get('n_union')} distinct images judged",
              f"- Throughput: {_num(metric_at(m, 'throughput', 'images_per_second'), 1)} edited images/s on "
              f"{metric_at(m, 'throughput', 'device')}", ""]
    lines += ["## Summary", ""]
    ent = metric_at(m, "mean", "obfuscation", "all", "entropy")
    lines += [f"- Privacy (mean adversary accuracy on the inverted attribute, label-free, images it got "
              f"right before; paper Table 3 sense, lower is better): **{_num(m.get('privacy'), 3)}** "
              f"(whole balanced subsets: {_num(m.get('privacy_all'), 3)})",
              f"- Utility (mean adversary accuracy on the attributes not edited, after label-free "
              f"inversion): **{_num(m.get('utility'), 3)}** (unedited: "
              f"{_num(metric_at(m, 'mean', 'utility', 'real'), 3)})"]
    if m.get("obfuscation_available") and ent:
        lines.append(f"- Obfuscation: mean entropy {_num(ent.get('real'))} -> {_num(ent.get('ours'))} bits "
                     f"(paper: 0.20 -> 0.81)")
    else:
        lines.append(f"- {m.get('obfuscation_message') or 'Obfuscation not evaluated.'}")
    if m.get("fid") is None:
        lines.append(f"- {metric_at(m, 'fid_info', 'message') or FID_SKIPPED}")
    else:
        extra = ""
        if metric_at(m, "fid_info", "obfuscated") is not None:
            extra = f"; obfuscated: {_num(metric_at(m, 'fid_info', 'obfuscated'))}"
        lines.append(f"- FID (label-free inversions vs real test images, {metric_at(m, 'fid_info', 'n_edited')} vs "
                     f"{metric_at(m, 'fid_info', 'n_real')} images): **{_num(m['fid'])}**{extra} (paper, 50,000 "
                     f"images: InfoScrub {P.PAPER_FID['InfoScrub']}, StarGAN {P.PAPER_FID['StarGAN']}; FID "
                     "from fewer images is biased upward)")
    lines.append("")
    from infoscrub.evaluation.protocol import METRICS  # importing the protocol registers them

    for metric in METRICS.values():
        if metric.report is not None:
            lines += metric.report(m)
    from infoscrub.evaluation.album_attack import album_section

    lines += album_section(m)
    lines += ["## FID", ""]
    if m.get("fid") is None:
        lines += [metric_at(m, "fid_info", "message") or FID_SKIPPED, ""]
    else:
        lines += [f"FID label-free inversions vs real: {_num(m['fid'])}; obfuscations vs real: "
                  f"{_num(metric_at(m, 'fid_info', 'obfuscated'))} ({metric_at(m, 'fid_info', 'n_edited')} edited, "
                  f"{metric_at(m, 'fid_info', 'n_real')} real images; weights `{m.get('fid_weights')}`).", ""]
    figures = m.get("figures") or []
    if figures:
        lines += ["## Figures", ""]
        for fig in figures:
            lines.append(f"![{fig}]({fig})")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- sections
# The report sections of the registered metrics (evaluation/protocol.py registers them).


def inversion_sections(m: dict[str, Any]) -> list[str]:
    lines = ["## Inversion against the unseen adversary (paper Table 1 / A1)", "",
             "Share of images the adversary still assigns their original value after inverting only "
             "that attribute (lower is better). On the images the adversary gets right before editing "
             "(the paper's setting: Real = 100%):", ""]
    lines += _inversion_table(m, "correct", True)
    lines += ["On the whole balanced subsets (Real = the adversary's own TPR/TNR/accuracy):", ""]
    lines += _inversion_table(m, "all", False)
    lines += ["## Ablation (paper Table 2): Acc (%) after inversion", ""]
    lines += _ablation_table(m)
    lines += ["## Privacy / utility (paper Table 3)", ""]
    return lines + _tradeoff_table(m)


def obfuscation_section(m: dict[str, Any]) -> list[str]:
    lines = ["## Obfuscation (paper Table 4 / A2)", ""]
    if not m.get("obfuscation_available"):
        return lines + [m.get("obfuscation_message") or "Obfuscation not evaluated.", ""]
    lines += ["Adversary entropy and p(present) before (Real) and after (This model; the paper's "
              "'Ours') obfuscation, by ground truth: Positive = the attribute is present. Gain: "
              "entropy ours - real; probability: movement toward 0.5 (Table 4's convention; Table A2 "
              "prints the Negative probability gain with a minus sign).", ""]
    return lines + _obfuscation_table(m)


def utility_section(m: dict[str, Any]) -> list[str]:
    return ["## Utility: adversary accuracy (%) on the attributes not edited", ""] + _utility_table(m)


def fidelity_section(m: dict[str, Any]) -> list[str]:
    return ["## Fidelity of the edits to the input", ""] + _fidelity_table(m)


def reshare_section(m: dict[str, Any]) -> list[str]:
    """Privacy after sharing (``evaluate --reshare``): one row per channel beside the unshared one."""
    mean = m.get("mean") or {}
    channels = list((mean.get("reshare") or {}).keys())
    if not channels:
        return []
    from infoscrub.sharing import CHANNELS

    lines = ["## Privacy after sharing", "",
             "The same evaluation with the photos shared before the adversary judges them (the "
             "originals too). Inversion Acc: on the images it got right before editing and sharing; "
             "lower is better. Entropy: of its belief on the obfuscated attribute, higher is better.", ""]
    header = ["Channel", "Adversary accuracy, originals (%)", "Inversion Acc (%)", "Entropy originals (bits)",
              "Entropy obfuscated (bits)"]
    rows = [["none (as written)", _pct(metric_at(mean, "adversary", "accuracy")),
             _pct(metric_at(mean, "inversion", "label_free", "correct", "acc")),
             _num(metric_at(mean, "obfuscation", "all", "entropy", "real")),
             _num(metric_at(mean, "obfuscation", "all", "entropy", "ours"))]]
    for c in channels:
        rows.append([f"{c}: {CHANNELS[c].description}" if c in CHANNELS else c,
                     _pct(metric_at(mean, "reshare", c, "real_accuracy")),
                     _pct(metric_at(mean, "reshare", c, "inversion", "correct", "acc")),
                     _num(metric_at(mean, "reshare", c, "entropy", "real")),
                     _num(metric_at(mean, "reshare", c, "entropy", "ours"))])
    return lines + _table(header, rows)


IDENTITY_KEYS = (("label_free", "inverted (label-free)"), ("obfuscated", "obfuscated"),
                 ("different_person", "another person (baseline)"))


def identity_section(m: dict[str, Any]) -> list[str]:
    """Still the same person (``evaluate --identity``): beside utility, per attribute."""
    mean = m.get("mean") or {}
    if not mean.get("identity"):
        return []
    attrs, per = m["attributes"], m["per_attribute"]
    threshold = metric_at(mean, "identity", "threshold")
    n = metric_at(per[attrs[0]], "identity", "n")
    lines = ["## Identity: still the same person?", "",
             f"dlib's face-recognition embedding of the input and of its edit, on the first {n} faces of each "
             f"attribute's subset: the share verified as the same person (distance below {_num(threshold, 2)}) and "
             "the mean distance. The unedited face is itself (distance 0, 100% verified); 'another person' "
             "pairs each face with the next image of the set, the level at which nothing of the identity is left.",
             ""]
    header = ["Quantity", "Face"] + attrs + ["Mean"]
    rows = []
    for quantity, key, fmt in (("Verified as the same person (%)", "verified", _pct),
                               ("Mean distance", "distance", lambda v: _num(v, 3))):
        first = True
        for path, name in IDENTITY_KEYS:
            if metric_at(mean, "identity", path) is None:
                continue
            rows.append([quantity if first else "", name] + [fmt(metric_at(per[a], "identity", path, key))
                                                             for a in attrs]
                        + [fmt(metric_at(mean, "identity", path, key))])
            first = False
    return lines + _table(header, rows)


def adversary_section(m: dict[str, Any]) -> list[str]:
    return ["## The adversary and the editor on unedited images", ""] + _adversary_table(m)


def write_report(metrics: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_report(metrics))
    return path
