"""The registry of evaluation metrics: a new metric is one module in ``evaluation/summaries/``
(its compute function with ``@register_metric``, its report section beside it) and one import
line in ``summaries/__init__.py``.

Each metric is computed for every target attribute from what the pass collected
(``evaluation.collected``: its balanced subset, the adversary's p before and after each edit,
L1/PSNR); its value becomes ``per_attribute[ATTRIBUTE][name]`` in ``metrics.json``,
``summary.mean_tree`` averages it into ``mean[name]``, ``EvaluationSummary`` names each of its
numbers ``name/key/...`` and, if the metric has a report section, ``report.md`` gets it, in
registration order. ``needs`` names the edit paths it reads: without them the value is null
(e.g. obfuscation for a model without a Stage II mixer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from infoscrub.evaluation.collected import AttributeRun, Collected
    from infoscrub.evaluation.summary import EvaluationSummary

    # (the attribute's run, the whole pass, the attribute's column in col.watch) -> JSON-able value
    Compute = Callable[[AttributeRun, Collected, int], Any]
    # (the summary, the rest of metrics.json: model, data...) -> markdown lines
    Section = Callable[[EvaluationSummary, dict[str, Any]], list[str]]


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Compute
    needs: tuple[str, ...] = ()  # edit paths that must have been collected
    report: Section | None = None


METRICS: dict[str, Metric] = {}


def register_metric(name: str, needs: tuple[str, ...] = (), report: Section | None = None):
    """Decorator: ``@register_metric("fidelity", report=section)`` on the compute function."""
    def add(compute: Compute) -> Compute:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, compute, tuple(needs), report)
        return compute
    return add


def registered() -> list[Metric]:
    """Every metric in registration order (the order of metrics.json's entries and of
    report.md's sections)."""
    import infoscrub.evaluation.summaries  # noqa: F401 - importing the package registers the metrics

    return list(METRICS.values())
