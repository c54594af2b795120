"""``infoscrub compare``: one table of several evaluated models, laid out like the paper's
Table A1 (+ Table 2 for Stage I variants, + FID), with the paper's numbers beside ours
(a thin layer over ``infoscrub.evaluation.compare``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare evaluated models (paper Table A1 / Table 2 / FID layout)",
        description="Read the metrics.json that 'infoscrub evaluate' wrote for each model and write "
        "comparison.md (tables: rows Real and each method, columns the attributes, TPR / TNR / Acc "
        "blocks; the ablation table when Stage I variants are compared; privacy, utility, fidelity "
        "and FID) and comparison.json into --out. The paper's numbers are printed beside ours.")
    p.add_argument("sources", nargs="+", metavar="[NAME=]RUN_OR_REPORT",
                   help="a metrics.json, the folder holding it, or a run folder with eval/metrics.json; "
                   "NAME= sets the row's name")
    p.add_argument("--out", required=True, help="output folder for comparison.md and comparison.json")
    p.add_argument("--path", choices=("label_free", "labelled"), default="label_free",
                   help="which edit path to compare (default label_free: the model reads the current "
                   "attribute value itself, as for a photo)")
    p.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from infoscrub.evaluation.compare import write_comparison

    paths = write_comparison(args.sources, args.out, args.path)
    print(f"wrote {paths['markdown']} and {paths['json']}")
    return 0
