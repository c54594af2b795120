"""Markdown pieces of ``report.md``: number formats and tables (the metrics' report sections
in ``evaluation.summaries`` and the report's frame in ``evaluation.report`` share them)."""

from __future__ import annotations

from typing import Any

DASH = "–"


def pct(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{100 * v:.{digits}f}"


def num(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else f"{v:.{digits}f}"


def paper(v: float | None, digits: int | None = None) -> str:
    """A paper number as printed (at least one decimal: 6.0, 5.69, 39.0), or fixed digits."""
    if v is None:
        return DASH
    if digits is not None:
        return f"{v:.{digits}f}"
    text = f"{v:g}"
    return text if "." in text or "e" in text else f"{v:.1f}"


def paper_mean(values: list[float | None]) -> float | None:
    """The mean of a paper row, or None where the paper lacks a value."""
    return None if not values or any(v is None for v in values) else sum(values) / len(values)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines + [""]


def model_label(record: dict[str, Any]) -> str:
    """The evaluated model's row name in the report's tables: 'This model (kind, variant)'."""
    model = record.get("model", {})
    parts = [str(model.get("kind"))]
    if model.get("variant"):
        parts.append(str(model["variant"]))
    return "This model (" + ", ".join(parts) + ")"
