"""The markdown report of an evaluation, and the structure of ``metrics.json``.

``metrics.json`` (format "infoscrub-evaluation", version 1). Rates, accuracies and
probabilities are fractions in [0, 1]; entropies in bits; L1 on [-1, 1] images (mean
absolute difference per pixel and channel); PSNR in dB of the 8-bit images; a value that
cannot be computed (empty group, no weights) is null::

    format, version
    model:      {checkpoint, kind, variant, steps, attributes, alignment, image_size, can_obfuscate}
                (kind: stage1 | stage2 | stargan | icgan | ...; variant: bidirectional |
                 d_attr | d_attr_at | null; steps: training step of the checkpoint)
    adversary:  {checkpoint, sha256, attributes (count)}
    data:       {root, split, n_images (split size), n_union (images judged), per_attribute, seed}
    attributes: [target attribute names, in order]
    paths:      ["label_free", "labelled", "obfuscated"?]
    per_attribute: {ATTRIBUTE: ENTRY}
    mean:       ENTRY-shaped means over the attributes (counts and lists dropped)
    privacy:    mean label-free Acc on the 'correct' subsets (paper Table 3 privacy)
    privacy_all: mean label-free Acc on the whole balanced subsets
    privacy_shared: {CHANNEL: privacy after that sharing channel} ({} without --reshare)
    utility:    mean label-free accuracy on the non-target attributes (paper Table 3 utility)
    fid:        FID of the label-free inversions vs the real images, or null
    fid_info:   {value, obfuscated (FID of obfuscations), message (why skipped, else null),
                 n_real, n_edited}
    identity_faces, obfuscation_available, obfuscation_message, fid_weights
    throughput: {images_edited, seconds, images_per_second, device}
    seconds:    {adversary_real, edit_and_judge, identity?, fid?, album?, adaptive?, figures}
    album?:     the multi-photo attacker (``evaluation.album_attack``), with --album
    adaptive?:  the adaptive attacker (``evaluation.adaptive``), with --adaptive
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
      identity: null | {n, threshold,                # null without --identity
        different_person | label_free | obfuscated?: {verified, distance}},
      fidelity: {label_free | labelled | obfuscated: {l1, psnr}},
      adversary: {accuracy, ece},                    # on the unedited balanced subset
      reshare: null | {CHANNEL: {real_accuracy,      # null without --reshare
        inversion: {all | correct: {tpr, tnr, acc, n_pos, n_neg}}, entropy: {real, ours}}},
      code_accuracy                                  # share where the editor's code reads the label right (InfoScrub only)
    }

The entries' metrics are the registered ones (``evaluation.registry``, one module each in
``evaluation.summaries``), in registration order; the report renders their sections in that
order. ``EvaluationSummary`` (``evaluation.summary``) reads every value by its path joined
with '/' (``inversion/label_free/correct/acc``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation import paper_numbers as P
from infoscrub.evaluation.collected import FidResult
from infoscrub.evaluation.fid import FID_SKIPPED
from infoscrub.evaluation.registry import registered
from infoscrub.evaluation.summaries import obfuscation, utility
from infoscrub.evaluation.summary import EvaluationSummary

FORMAT = "infoscrub-evaluation"
VERSION = 1


def _header(m: dict[str, Any]) -> list[str]:
    """What was evaluated: model, adversary, data, throughput."""
    model, data = m.get("model", {}), m.get("data", {})
    throughput = m.get("throughput") or {}
    steps = model.get("steps") if model.get("steps") is not None else md.DASH
    return ["# infoscrub evaluation", "",
            f"- Model: `{model.get('checkpoint')}` — kind {model.get('kind')}, variant "
            f"{model.get('variant') or md.DASH}, step {steps}, {len(model.get('attributes', []))} attributes, "
            f"{model.get('alignment')} alignment, {model.get('image_size')}px",
            f"- Adversary: `{(m.get('adversary') or {}).get('checkpoint')}`",
            f"- Data: `{data.get('root')}`, split {data.get('split')} ({data.get('n_images')} images); "
            f"balanced subsets of at most {data.get('per_attribute') or 'all'} per class, seed "
            f"{data.get('seed')}; {data.get('n_union')} distinct images judged",
            f"- Throughput: {md.num(throughput.get('images_per_second'), 1)} edited images/s on "
            f"{throughput.get('device')}", ""]


def _summary(s: EvaluationSummary, m: dict[str, Any]) -> list[str]:
    """The headline numbers beside the paper's."""
    lines = ["## Summary", "",
             f"- Privacy (mean adversary accuracy on the inverted attribute, label-free, images it got "
             f"right before; paper Table 3 sense, lower is better): **{md.num(s.privacy, 3)}** "
             f"(whole balanced subsets: {md.num(s.privacy_all, 3)})",
             f"- Utility (mean adversary accuracy on the attributes not edited, after label-free "
             f"inversion): **{md.num(s.utility, 3)}** (unedited: {md.num(s.value(utility.UNEDITED), 3)})"]
    if s.value(obfuscation.ENTROPY_AFTER) is not None:
        paper = P.PAPER_SUMMARY["entropy_bits"]
        lines.append(f"- Obfuscation: mean entropy {md.num(s.value(obfuscation.ENTROPY_BEFORE))} -> "
                     f"{md.num(s.value(obfuscation.ENTROPY_AFTER))} bits (paper: {paper['before']:.2f} -> "
                     f"{paper['after']:.2f})")
    else:
        lines.append(f"- {m.get('obfuscation_message') or 'Obfuscation not evaluated.'}")
    lines.append(f"- {_fid_summary(s.fid)}")
    return lines + [""]


def _fid_summary(fid: FidResult) -> str:
    if fid.value is None:
        return fid.message or FID_SKIPPED
    extra = f"; obfuscated: {md.num(fid.obfuscated)}" if fid.obfuscated is not None else ""
    return (f"FID (label-free inversions vs real test images, {fid.n_edited} vs {fid.n_real} images): "
            f"**{md.num(fid.value)}**{extra} (paper, 50,000 images: InfoScrub {P.PAPER_FID['InfoScrub']}, "
            f"StarGAN {P.PAPER_FID['StarGAN']}; FID from fewer images is biased upward)")


def _fid_section(fid: FidResult, weights: str | None) -> list[str]:
    if fid.value is None:
        return ["## FID", "", fid.message or FID_SKIPPED, ""]
    return ["## FID", "", f"FID label-free inversions vs real: {md.num(fid.value)}; obfuscations vs real: "
            f"{md.num(fid.obfuscated)} ({fid.n_edited} edited, {fid.n_real} real images; weights `{weights}`).", ""]


def _figures(figures: list[str]) -> list[str]:
    if not figures:
        return []
    return ["## Figures", ""] + [f"![{fig}]({fig})" for fig in figures] + [""]


def render_report(m: dict[str, Any]) -> str:
    """report.md from a metrics.json record: its frame, then each registered metric's section."""
    from infoscrub.evaluation.adaptive import adaptive_section
    from infoscrub.evaluation.album_attack import album_section

    s = EvaluationSummary.from_json(m)
    lines = _header(m) + _summary(s, m)
    for metric in registered():
        if metric.report is not None:
            lines += metric.report(s, m)
    lines += album_section(m)
    lines += adaptive_section(m)
    lines += _fid_section(s.fid, m.get("fid_weights"))
    return "\n".join(lines + _figures(m.get("figures") or []))


def write_report(metrics: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_report(metrics))
    return path
