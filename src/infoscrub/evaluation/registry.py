"""The registry of evaluation metrics: a new metric is one function plus one decorator line.

Each metric is computed for every target attribute from what the protocol collected (its
balanced subset, the adversary's p before and after each edit, L1/PSNR); its value becomes
``per_attribute[ATTRIBUTE][name]`` in ``metrics.json``, ``mean_tree`` averages it into
``mean[name]`` and, if the metric has a report renderer, ``report.md`` gets its section(s)
in registration order. ``needs`` names the edit paths it reads: without them the value is
null (e.g. obfuscation for a model without a Stage II mixer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[..., Any]  # (run: AttributeRun, col: Collected, t: int) -> JSON-able value
    needs: tuple[str, ...] = ()  # edit paths that must have been collected
    report: Callable[[dict[str, Any]], list[str]] | None = None  # metrics.json -> markdown lines


METRICS: dict[str, Metric] = {}


def register_metric(name: str, needs: tuple[str, ...] = (),
                    report: Callable[[dict[str, Any]], list[str]] | None = None):
    """Decorator: ``@register_metric("fidelity", report=fidelity_section)`` on the compute
    function."""
    def add(compute: Callable[..., Any]) -> Callable[..., Any]:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, compute, tuple(needs), report)
        return compute
    return add
