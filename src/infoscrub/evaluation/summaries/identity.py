"""Identity (``evaluate --identity``): is the edited face still the input's person, by a
face-recognition embedding? Per edit path, and for another person's face as the baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation.collected import AttributeRun, Collected
from infoscrub.evaluation.registry import register_metric

if TYPE_CHECKING:
    from infoscrub.evaluation.summary import EvaluationSummary

FACES = (("label_free", "inverted (label-free)"), ("obfuscated", "obfuscated"),
         ("different_person", "another person (baseline)"))
N, THRESHOLD = "identity/n", "identity/threshold"


def value_name(face: str, key: str) -> str:
    """``value_name('label_free', 'verified')``: the share verified as the input's person."""
    return f"identity/{face}/{key}"


def section(s: EvaluationSummary, record: dict[str, Any]) -> list[str]:
    """Beside utility, per attribute; nothing without an identity check."""
    if not s.measured("identity"):
        return []
    lines = ["## Identity: still the same person?", "",
             f"dlib's face-recognition embedding of the input and of its edit, on the first "
             f"{s.value(N, s.attributes[0])} faces of each attribute's subset: the share verified as the same "
             f"person (distance below {md.num(s.value(THRESHOLD), 2)}) and the mean distance. The unedited face "
             "is itself (distance 0, 100% verified); 'another person' pairs each face with the next image of "
             "the set, the level at which nothing of the identity is left.", ""]
    header = ["Quantity", "Face"] + s.attributes + ["Mean"]
    rows = []
    for quantity, key, fmt in (("Verified as the same person (%)", "verified", md.pct),
                               ("Mean distance", "distance", lambda v: md.num(v, 3))):
        first = True
        for face, name in FACES:
            if s.value(value_name(face, key)) is None:
                continue
            rows.append([quantity if first else "", name] + [fmt(v) for v in s.per(value_name(face, key)).values()]
                        + [fmt(s.value(value_name(face, key)))])
            first = False
    return lines + md.table(header, rows)


@register_metric("identity", report=section)
def identity_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any] | None:
    """Still the same person? Per edit path (and for another person's face, the baseline):
    the share of faces verified as the input's person and the mean embedding distance;
    null without ``evaluate --identity``."""
    if run.identity is None:
        return None
    out: dict[str, Any] = {"n": int(len(run.identity["different_person"])), "threshold": col.identity_threshold}
    for key, d in run.identity.items():
        out[key] = {"verified": float((d < col.identity_threshold).mean()), "distance": float(d.mean())}
    return out
