"""The tables of docs/privacy.md, the audit of the shipped model under each threat model,
from one evaluation's metrics.json (``evaluate --identity --reshare --album --adaptive``).

``scripts/privacy_tables.py`` writes them between the document's markers whenever the
shipped weights change, so the audit never describes other weights than those that ship.
Each table is the one report.md renders for the same numbers, one level deeper.
"""

from __future__ import annotations

from typing import Any

from infoscrub.evaluation import markdown as md
from infoscrub.evaluation.adaptive import adaptive_section
from infoscrub.evaluation.album_attack import album_section
from infoscrub.evaluation.summaries import adversary, identity, inversion, obfuscation, reshare, utility
from infoscrub.evaluation.summary import EvaluationSummary
from infoscrub.errors import InfoscrubError

BEGIN = "<!-- privacy-tables:begin (scripts/privacy_tables.py writes this part) -->"
END = "<!-- privacy-tables:end -->"


def audit_tables(m: dict[str, Any]) -> str:
    """The audit's measured part, in markdown, from an evaluation's metrics.json record."""
    s = EvaluationSummary.from_json(m)
    model, data = m.get("model", {}), m.get("data", {})
    lines = [f"Measured on `{model.get('checkpoint')}` ({model.get('kind')}, step {model.get('steps')}), "
             f"judged by the held-out adversary (sha256 `{str(m.get('adversary', {}).get('sha256'))[:12]}`) on "
             f"the {data.get('split')} split of `{data.get('root')}` ({data.get('n_union')} faces, "
             f"{data.get('per_attribute')} per class and attribute).", ""]
    lines += ["### 1. The fixed attacker (the paper's)", "",
              "A ResNet-18 trained on unedited faces, never on scrubbed ones. Inversion: its accuracy on "
              "inverted faces it read right before (lower hides more; 0 = it always reads the false value). "
              "Obfuscation: the entropy of its belief in bits (1 = undecided). Utility: its accuracy on the "
              "attributes that were not edited.", ""]
    lines += _fixed_table(s)
    if s.measured("identity"):
        lines += [f"Identity kept (same person by face recognition): inverted "
                  f"{md.pct(s.value(identity.value_name('label_free', 'verified')))}%, obfuscated "
                  f"{md.pct(s.value(identity.value_name('obfuscated', 'verified')))}%; another person "
                  f"{md.pct(s.value(identity.value_name('different_person', 'verified')))}%.", ""]
    parts = [("### 2. The adaptive attacker (knows infoscrub)", adaptive_section(m), "--adaptive"),
             ("### 3. Many photos of one person", album_section(m), "--album FOLDER"),
             ("### 4. After sharing", reshare.section(s, m), "--reshare")]
    for title, section, flag in parts:
        lines += [title, ""] + (_deeper(section[1:]) if section else
                                [f"Not measured in this evaluation (`evaluate {flag}`).", ""])
    return "\n".join(lines).rstrip() + "\n"


def _fixed_table(s: EvaluationSummary) -> list[str]:
    header = ["Attribute", "read right, unedited", "inverted: accuracy", "entropy unedited", "entropy obfuscated",
              "utility"]
    columns = [adversary.ACCURACY, inversion.ACCURACY, obfuscation.ENTROPY_BEFORE, obfuscation.ENTROPY_AFTER,
               utility.ACCURACY]
    rows = []
    for name in s.attributes + ["mean"]:
        values = [s.value(c) if name == "mean" else s.value(c, name) for c in columns]
        rows.append([name] + [md.num(v, 3) for v in values])
    return md.table(header, rows)


def _deeper(lines: list[str]) -> list[str]:
    """A report section's lines under the audit's own heading: its title dropped by the
    caller, its subheadings one level deeper."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    return ["#" + line if line.startswith("##") else line for line in lines]


def replace_tables(document: str, tables: str) -> str:
    """``document`` with the part between the markers replaced by ``tables``."""
    if document.count(BEGIN) != 1 or document.count(END) != 1 or document.index(BEGIN) > document.index(END):
        raise InfoscrubError("the document needs the privacy-tables begin and end markers, once each, in order")
    head, rest = document.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{tables}{END}{tail}"
