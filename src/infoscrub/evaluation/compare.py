"""Compare evaluated models: the paper's Table A1 (inversion), Table 2 (ablation) and FID,
built from the ``metrics.json`` files that ``infoscrub evaluate`` writes (structure:
``infoscrub.evaluation.report``), with the paper's numbers (``infoscrub.evaluation.
paper_numbers``) beside ours.

A source is a metrics.json file, an evaluation folder holding one, or a run folder with
``eval/metrics.json``; ``NAME=SOURCE`` names its row. Without a name the row is named after
the method (StarGAN, IcGAN, InfoScrub, D_attr, D_attr + AT), made unique with the folder
name when two sources share one.

The tables use one editing path for every method: ``label_free`` (default; the current
attribute values come from the model itself, as for a photo) or ``labelled``. Rates are on
the images the adversary judged right before editing (the paper's setting, Real = 100%);
a second copy of Table A1 is on the whole balanced subsets. Lower is better throughout
Table A1 and Table 2. Runs evaluated under different protocols (adversary, data, split,
subset size, seed) are not comparable: the report says so at the top.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from infoscrub.attributes import DEFAULT_ATTRIBUTES
from infoscrub.errors import InfoscrubError
from infoscrub.kinds import KINDS
from infoscrub.evaluation.summaries import inversion
from infoscrub.evaluation.summary import EvaluationSummary

DASH = "–"
EDIT_PATHS = ("label_free", "labelled")
SUBSETS = ("correct", "all")
METRICS = (("tpr", "TPR (%)"), ("tnr", "TNR (%)"), ("acc", "Acc (%)"))
VARIANT_NAMES = {"bidirectional": "InfoScrub", "d_attr": "D_attr", "d_attr_at": "D_attr + AT"}
# The protocol settings that must agree for two evaluations to be comparable.
PROTOCOL_KEYS = (("adversary", "checkpoint"), ("data", "root"), ("data", "split"),
                 ("data", "per_attribute"), ("data", "seed"))


@dataclass
class Evaluated:
    name: str
    source: Path
    metrics: dict[str, Any]
    method: str = ""  # paper method this row corresponds to (StarGAN, IcGAN, InfoScrub) or ""
    variant: str | None = None  # Stage I variant (Table 2 row) or None
    notes: list[str] = field(default_factory=list)

    @cached_property
    def summary(self) -> EvaluationSummary:
        """Its results, read by name."""
        return EvaluationSummary.from_json(self.metrics)


def record_at(record: dict[str, Any], *keys: str) -> Any:
    """A setting of a metrics.json record (``record_at(m, 'data', 'seed')``), or None where a
    level is missing."""
    value: Any = record
    for k in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(k)
    return value


def find_metrics(source: str | Path) -> Path:
    """The metrics.json behind a file, an evaluation folder or a run folder."""
    path = Path(source)
    if path.is_file():
        return path
    for candidate in (path / "metrics.json", path / "eval" / "metrics.json"):
        if candidate.is_file():
            return candidate
    if path.is_dir():
        found = sorted(path.glob("*/metrics.json"))
        if len(found) == 1:
            return found[0]
    raise InfoscrubError(f"no metrics.json at {source} (give the file, its folder or a run folder with "
                         "eval/metrics.json; write one with 'infoscrub evaluate')")


def load_metrics(path: Path) -> dict[str, Any]:
    from infoscrub.evaluation.report import FORMAT, VERSION

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InfoscrubError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InfoscrubError(f"{path} is not an infoscrub evaluation (metrics.json of 'infoscrub evaluate')")
    if data.get("version") != VERSION:
        raise InfoscrubError(f"{path} has evaluation format version {data.get('version')}; this infoscrub reads {VERSION}")
    for key in ("attributes", "per_attribute", "mean"):
        if key not in data:
            raise InfoscrubError(f"{path} lacks '{key}'; it is not a complete evaluation")
    return data


def _method_of(m: dict[str, Any]) -> tuple[str, str, str | None]:
    """(default row name, paper method, Table 2 variant) of an evaluated model."""
    model = m.get("model") or {}
    kind, variant = model.get("kind"), model.get("variant")
    method = KINDS[kind].paper_method if kind in KINDS else None
    if method and kind not in ("stage1", "stage2"):  # a baseline: its paper row, no variant
        return method, method, None
    if kind in ("stage1", "stage2"):
        variant = variant or "bidirectional"
        name = VARIANT_NAMES.get(variant, f"InfoScrub ({variant})")
        if kind == "stage2":
            name += " (Stage II)"
        return name, "InfoScrub" if variant == "bidirectional" else "", variant
    return str(kind or "model"), "", None


def parse_source(item: str) -> tuple[str | None, str]:
    """``NAME=SOURCE`` or ``SOURCE``."""
    name, sep, rest = item.partition("=")
    if sep and name and not Path(item).exists():
        return name.strip(), rest
    return None, item


def load_evaluations(sources: list[str]) -> list[Evaluated]:
    if not sources:
        raise InfoscrubError("give at least one run folder or metrics.json to compare")
    rows: list[Evaluated] = []
    for item in sources:
        name, source = parse_source(item)
        path = find_metrics(source)
        metrics = load_metrics(path)
        default, method, variant = _method_of(metrics)
        rows.append(Evaluated(name or default, path, metrics, method, variant))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.name] = counts.get(row.name, 0) + 1
    for row in rows:  # make repeated default names unique with the folder they came from
        if counts[row.name] > 1:
            folder = row.source.parent
            label = folder.parent.name if folder.name == "eval" else folder.name
            row.name = f"{row.name} [{label}]"
    if len({r.name for r in rows}) != len(rows):
        raise InfoscrubError("two compared rows have the same name; name them with NAME=PATH")
    return rows


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None
    return sum(values) / len(values)


def _pct(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{100 * v:.{digits}f}"


def _num(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else f"{v:.{digits}f}"


def _paper(v: float | None) -> str:
    if v is None:
        return DASH
    text = f"{v:g}"
    return text if "." in text else f"{v:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def column_attributes(rows: list[Evaluated]) -> list[str]:
    """The attributes evaluated in any run: the paper's ten first (in its order), then others."""
    seen: list[str] = []
    for row in rows:
        for a in row.metrics["attributes"]:
            if a not in seen:
                seen.append(a)
    ten = [a for a in DEFAULT_ATTRIBUTES if a in seen]
    return ten + [a for a in seen if a not in ten]


# Settings that name files: one file named two ways (relative, absolute, through a link) is
# one setting. The adversary is compared by its content when every evaluation recorded it.
PATH_KEYS = (("adversary", "checkpoint"), ("data", "root"))


def protocol_value(row: Evaluated, keys: tuple[str, ...], by_content: bool) -> Any:
    """What must agree for ``keys``: the adversary's content hash, a resolved path, or the value."""
    if keys == ("adversary", "checkpoint") and by_content:
        return record_at(row.metrics, "adversary", "sha256")
    value = record_at(row.metrics, *keys)
    if keys in PATH_KEYS and isinstance(value, str):
        return str(Path(value).resolve())
    return value


def protocol_differences(rows: list[Evaluated]) -> list[str]:
    """Protocol settings that differ between the compared evaluations."""
    notes = []
    by_content = all(record_at(r.metrics, "adversary", "sha256") for r in rows)
    for keys in PROTOCOL_KEYS:
        values = {json.dumps(protocol_value(r, keys, by_content)) for r in rows}
        if len(values) > 1:
            notes.append(f"{'.'.join(keys)} differs: " + ", ".join(
                f"{r.name}: {record_at(r.metrics, *keys)}" for r in rows))
    return notes


def inversion_table(rows: list[Evaluated], attrs: list[str], path: str, subset: str,
                    with_paper: bool) -> dict[str, Any]:
    """Table A1 as data: {metric: [{row, values (fractions or None), mean}]}, paper values in %."""
    from infoscrub.evaluation import paper_numbers as P

    table: dict[str, Any] = {}
    for metric, _ in METRICS:
        entries = []
        real_rate = inversion.rate("real", subset, metric)
        real = [rows[0].summary.value(real_rate, a) for a in attrs]
        for r in rows[1:]:  # Real comes from the first run that has the attribute
            real = [v if v is not None else r.summary.value(real_rate, a) for v, a in zip(real, attrs)]
        entries.append({"row": "Real", "source": "measured", "values": real, "mean": _mean(real)})
        for r in rows:
            vals = [r.summary.value(inversion.rate(path, subset, metric), a) for a in attrs]
            entries.append({"row": r.name, "source": "measured", "values": vals, "mean": _mean(vals)})
        if with_paper:
            for method in ("IcGAN", "StarGAN", "InfoScrub"):
                vals = [P.paper_inversion(metric, method, a) for a in attrs]
                entries.append({"row": f"Paper: {method}", "source": "paper", "values": vals,
                                "mean": _mean(vals)})
        table[metric] = entries
    return table


def ablation_table(rows: list[Evaluated], attrs: list[str], path: str) -> list[dict[str, Any]] | None:
    """Table 2 (Acc after inversion, correct subset) when some compared runs are variants."""
    from infoscrub.evaluation import paper_numbers as P

    variants = [r for r in rows if r.variant is not None]
    if not variants:
        return None
    entries = []
    for variant in ("d_attr", "d_attr_at", "bidirectional"):
        for r in variants:
            if r.variant == variant:
                vals = [r.summary.value(inversion.rate(path, "correct", "acc"), a) for a in attrs]
                entries.append({"row": r.name, "variant": variant, "source": "measured", "values": vals,
                                "mean": _mean(vals)})
    for variant, name in (("d_attr", "Paper: D_attr"), ("d_attr_at", "Paper: D_attr + AT"),
                          ("bidirectional", "Paper: Ours (bi-directional)")):
        vals = [P.PAPER_TABLE_2[variant].get(a) for a in attrs]
        entries.append({"row": name, "variant": variant, "source": "paper", "values": vals, "mean": _mean(vals)})
    return entries


def summary_table(rows: list[Evaluated], attrs: list[str], path: str) -> list[dict[str, Any]]:
    from infoscrub.evaluation import paper_numbers as P

    out = []
    for r in rows:
        m, s = r.metrics, r.summary
        privacy = _mean([s.value(inversion.rate(path, "correct", "acc"), a) for a in attrs if a in s.attributes])
        privacy_all = _mean([s.value(inversion.rate(path, "all", "acc"), a) for a in attrs if a in s.attributes])
        out.append({
            "row": r.name, "kind": record_at(m, "model", "kind"), "variant": record_at(m, "model", "variant"),
            "steps": record_at(m, "model", "steps"), "privacy": privacy, "privacy_all": privacy_all,
            "utility": s.value(f"utility/{path}"),
            "l1": s.value(f"fidelity/{path}/l1"), "psnr": s.value(f"fidelity/{path}/psnr"),
            "fid": m.get("fid") if path == "label_free" else None,
            "fid_images": record_at(m, "fid_info", "n_edited"),
            "paper_fid": P.PAPER_FID.get(r.method) if r.method else None,
            "source": str(r.source),
        })
    return out


def build_comparison(sources: list[str], path: str = "label_free") -> dict[str, Any]:
    if path not in EDIT_PATHS:
        raise InfoscrubError(f"unknown edit path {path!r}; choose label_free or labelled")
    rows = load_evaluations(sources)
    attrs = column_attributes(rows)
    return {
        "format": "infoscrub-comparison", "version": 1, "path": path, "attributes": attrs,
        "runs": [{"name": r.name, "source": str(r.source), "kind": record_at(r.metrics, "model", "kind"),
                  "variant": record_at(r.metrics, "model", "variant"),
                  "checkpoint": record_at(r.metrics, "model", "checkpoint")}
                 for r in rows],
        "protocol_differences": protocol_differences(rows),
        "protocol": {".".join(k): record_at(rows[0].metrics, *k) for k in PROTOCOL_KEYS},
        "table_a1": {subset: inversion_table(rows, attrs, path, subset, subset == "correct") for subset in SUBSETS},
        "table_2": ablation_table(rows, attrs, path),
        "summary": summary_table(rows, attrs, path),
    }


def _value_cells(entry: dict[str, Any], fmt, paper_digits: int = 1) -> list[str]:
    if entry["source"] == "paper":
        mean = entry["mean"]
        return [_paper(v) for v in entry["values"]] + [DASH if mean is None else f"{mean:.{paper_digits}f}"]
    return [fmt(v) for v in entry["values"]] + [fmt(entry["mean"])]


def render_comparison(c: dict[str, Any]) -> str:
    attrs = c["attributes"]
    path_name = {"label_free": "label-free (the model reads the current value itself, as for a photo)",
                 "labelled": "labelled (the current value comes from the test labels)"}[c["path"]]
    lines = ["# infoscrub comparison", ""]
    lines += [f"- {r['name']}: kind {r['kind']}, variant {r['variant'] or DASH}, `{r['source']}`" for r in c["runs"]]
    proto = c["protocol"]
    lines += [f"- Protocol: adversary `{proto['adversary.checkpoint']}`, data `{proto['data.root']}` split "
              f"{proto['data.split']}, at most {proto['data.per_attribute'] or 'all'} per class, seed {proto['data.seed']}",
              f"- Edit path: {path_name}", ""]
    if c["protocol_differences"]:
        lines += ["**Warning: these evaluations used different protocols, so their numbers are not "
                  "comparable:**", ""] + [f"- {d}" for d in c["protocol_differences"]] + [""]
    header = ["Metric", "Method"] + attrs + ["Mean"]
    for subset, title in (("correct", "## Table A1: inversion against the unseen adversary (images it judged "
                                      "right before editing; Real = 100%; lower is better)"),
                          ("all", "## Table A1 on the whole balanced subsets (Real = the adversary's own "
                                  "rates)")):
        lines += [title, ""]
        if subset == "correct":
            lines += ["Share of inverted images the adversary still assigns their original value: TPR on "
                      "originally positive images, TNR on originally negative ones, Acc on both. Paper rows: "
                      "the published Table A1 (percent).", ""]
        body = []
        for metric, label in METRICS:
            for k, entry in enumerate(c["table_a1"][subset][metric]):
                body.append([label if k == 0 else "", entry["row"]] + _value_cells(entry, _pct))
        lines += _table(header, body)
    if c["table_2"]:
        lines += ["## Table 2: ablation of the attribute classifier (Acc % after inversion, images the "
                  "adversary judged right before; lower is better)", ""]
        body = [[e["row"]] + _value_cells(e, lambda v: _pct(v, 2), 2) for e in c["table_2"]]
        lines += _table(["Model"] + attrs + ["Mean"], body)
    lines += ["## Summary: privacy, utility, fidelity, FID", ""]
    body = []
    for s in c["summary"]:
        fid = _num(s["fid"]) if s["fid"] is None else f"{s['fid']:.2f} ({s['fid_images']} images)"
        body.append([s["row"], str(s["steps"]) if s["steps"] is not None else DASH, _num(s["privacy"], 3),
                     _num(s["privacy_all"], 3), _num(s["utility"], 3), _num(s["l1"], 4), _num(s["psnr"], 2),
                     fid, _num(s["paper_fid"])])
    lines += _table(["Method", "Steps", "Privacy (Acc, correct)", "Acc (all)", "Utility", "L1", "PSNR (dB)",
                     "FID", "Paper FID"], body)
    lines += ["Privacy: mean Acc over the table's attributes (lower is better). Utility: mean adversary "
              "accuracy on the attributes not edited (higher is better). FID: label-free inversions vs "
              "real test images; the paper's used 50,000 images, fewer images bias FID upward; "
              f"{DASH} = not computed (no local InceptionV3 weights) or not published.", ""]
    return "\n".join(lines)


def write_comparison(sources: list[str], out: str | Path, path: str = "label_free") -> dict[str, Path]:
    """Write comparison.md and comparison.json into ``out``; returns their paths."""
    comparison = build_comparison(sources, path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "comparison.md", out / "comparison.json"
    md.write_text(render_comparison(comparison))
    js.write_text(json.dumps(comparison, indent=2, allow_nan=False) + "\n")
    return {"markdown": md, "json": js}
