"""The typed result of an evaluation: ``EvaluationSummary``, every metric's numbers per target
attribute and their means, read by flat name.

A name is a value's path in a ``metrics.json`` entry joined with '/', as stylegan2-ada names
its statistics: ``inversion/label_free/correct/acc``, ``obfuscation/all/entropy/ours``,
``utility/label_free``, ``reshare/jpeg75/inversion/correct/acc``, ``code_accuracy``. Each
metric module (``evaluation.summaries``) exports the names its readers need
(``inversion.ACCURACY``, ``obfuscation.ENTROPY_AFTER``...). ``metrics.json`` keeps the nested
entries (``as_json``); ``from_json`` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from infoscrub.evaluation import metrics as M
from infoscrub.evaluation.collected import Collected, FidResult
from infoscrub.evaluation.registry import registered
from infoscrub.evaluation.summaries import inversion, reshare, utility


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested entry under its '/'-joined path (a null metric is one leaf)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}/{key}" if prefix else key))
    return out


@dataclass(frozen=True)
class EvaluationSummary:
    attributes: list[str]  # the target attributes, in order
    paths: list[str]  # the edit paths evaluated
    per_attribute: dict[str, dict[str, Any]]  # metrics.json's entry of each attribute
    mean: dict[str, Any]  # the entries' means (counts and name lists dropped)
    channels: tuple[str, ...] = ()  # sharing channels the edits were also judged after
    fid: FidResult = field(default_factory=FidResult)
    seconds: dict[str, float] = field(default_factory=dict)
    _means: dict[str, Any] = field(init=False, repr=False, compare=False)
    _values: dict[str, dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_means", flatten(self.mean))
        object.__setattr__(self, "_values", {a: flatten(e) for a, e in self.per_attribute.items()})

    def value(self, name: str, attribute: str | None = None) -> Any:
        """The value called ``name``: its mean over the attributes, or its value for
        ``attribute``; None where it was not measured."""
        values = self._means if attribute is None else self._values.get(attribute, {})
        return values.get(name)

    def per(self, name: str) -> dict[str, Any]:
        """{attribute: value} of ``name``, in the attributes' order."""
        return {a: self.value(name, a) for a in self.attributes}

    def measured(self, metric: str) -> bool:
        """Whether ``metric`` has a value for some attribute (identity and reshare are optional)."""
        return self.mean.get(metric) is not None

    @property
    def privacy(self) -> float | None:
        """Paper Table 3's privacy: mean label-free Acc after inversion on the images the
        adversary got right before (the mean of Table A1's Acc row)."""
        return self.value(inversion.ACCURACY)

    @property
    def privacy_all(self) -> float | None:
        return self.value(inversion.ACCURACY_ALL)

    @property
    def privacy_shared(self) -> dict[str, float | None]:
        """The same privacy after each sharing channel ({} without --reshare)."""
        return {c: self.value(reshare.inversion_accuracy(c)) for c in self.channels}

    @property
    def utility(self) -> float | None:
        """Paper Table 3's utility: mean accuracy on the non-target attributes after label-free inversion."""
        return self.value(utility.ACCURACY)

    def as_json(self) -> dict[str, Any]:
        """The results' part of ``metrics.json`` (its structure: ``evaluation.report``)."""
        return {
            "attributes": list(self.attributes), "paths": list(self.paths),
            "per_attribute": self.per_attribute, "mean": self.mean,
            "privacy": self.privacy, "privacy_all": self.privacy_all, "privacy_shared": self.privacy_shared,
            "utility": self.utility, "fid": self.fid.value, "fid_info": self.fid.as_dict(),
            "seconds": dict(self.seconds),
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> EvaluationSummary:
        """The summary inside a ``metrics.json`` record (``attributes``, ``per_attribute`` and
        ``mean`` required; the rest as far as it is there)."""
        fid_info = record.get("fid_info") or {}
        fid = FidResult(**{f.name: fid_info[f.name] for f in fields(FidResult) if f.name in fid_info})
        return cls(list(record["attributes"]), list(record.get("paths") or []), record["per_attribute"],
                   record["mean"], tuple(record.get("privacy_shared") or ()), fid, dict(record.get("seconds") or {}))


def attribute_entry(col: Collected, attribute: str) -> dict[str, Any]:
    """One attribute's entry: its subset's counts, then every registered metric."""
    run = col.runs[attribute]
    t = col.watch.index(attribute)
    entry: dict[str, Any] = {"n": int(len(run.indices)), "n_pos": int(run.labels.sum()),
                             "n_neg": int((~run.labels).sum())}
    for metric in registered():
        available = all(path in col.paths for path in metric.needs)
        entry[metric.name] = metric.compute(run, col, t) if available else None
    return entry


def mean_tree(entries: list[Any]) -> Any:
    """Mean over attributes, leaf by leaf (None-skipping); counts and name lists dropped."""
    first = next((e for e in entries if e is not None), None)
    if isinstance(first, dict):
        out = {}
        for key in first:
            if key == "n" or key.startswith("n_") or key == "attributes":
                continue
            out[key] = mean_tree([e.get(key) if isinstance(e, dict) else None for e in entries])
        return out
    if first is None or isinstance(first, (int, float)):
        return M.mean_or_none(e for e in entries if isinstance(e, (int, float)))
    return None


def summarise(col: Collected) -> EvaluationSummary:
    per = {a: attribute_entry(col, a) for a in col.attributes}
    return EvaluationSummary(list(col.attributes), list(col.paths), per, mean_tree(list(per.values())),
                             tuple(col.channels), col.fid, dict(col.seconds))
