"""Print a round's rows for docs/results.md from its files, so no number is copied by hand.

    .venv/bin/python scripts/results_rows.py ROUND_OUT [--identity EVAL_OUT] [--name "round 1"]

ROUND_OUT is a round's output folder (its metrics.json and round.log); EVAL_OUT, optional,
an `infoscrub evaluate --identity` output folder of the same weights (its metrics.json).
Prints the summary row, the per-attribute inversion row and the realism row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def identity_kept(evaluation: dict | None) -> str:
    """Share of inverted faces still verified as the same person (mean over attributes)."""
    if evaluation is None:
        return "-"
    identity = (evaluation.get("mean") or {}).get("identity") or {}
    label_free = identity.get("label_free") or {}
    other = identity.get("different_person") or {}
    if label_free.get("verified") is None:
        return "-"
    return (f"{label_free['verified']:.3f} (distance {label_free['distance']:.3f}; another person "
            f"{other.get('verified', 0):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("round", type=Path)
    parser.add_argument("--identity", type=Path, help="evaluate --identity output folder")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    m = json.loads((args.round / "metrics.json").read_text())
    evaluation = json.loads((args.identity / "metrics.json").read_text()) if args.identity else None
    seen, rate, seconds = m["images_seen"], m["images_per_s"], m["seconds"]
    wall = sum(v for k, v in seconds.items() if k in ("stage1", "stage2"))
    entropy = m["entropy_bits"]
    real = m.get("realism") or {}
    name = args.name or f"round {m['round']}"
    print("| round | device | Stage I images (round / all) | Stage II images (round / all) | images/s I / II | "
          "training s | inversion acc | entropy bits before -> after | utility | realism (inverted, relative) | "
          "identity kept |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {name} | {m['device']} | {seen['stage1_round']:,} / {seen['stage1_total']:,} | "
          f"{seen['stage2_round']:,} / {seen['stage2_total']:,} | {fmt(rate.get('stage1'), 1)} / "
          f"{fmt(rate.get('stage2'), 1)} | {wall:,.0f} | {fmt(m['inversion_accuracy_mean'])} | "
          f"{fmt(entropy.get('before'), 2)} -> {fmt(entropy.get('after'), 2)} | {fmt(m['utility'])} | "
          f"{fmt(real.get('inverted'), 3)} ({fmt(real.get('inverted_relative'), 2)}) | {identity_kept(evaluation)} |")
    print()
    attributes = list(m["inversion_accuracy"])
    print("| inversion accuracy | " + " | ".join(attributes) + " |")
    print("| --- |" + " --- |" * len(attributes))
    print(f"| {name} | " + " | ".join(fmt(m["inversion_accuracy"][a]) for a in attributes) + " |")
    print("| held-out adversary on unedited faces | "
          + " | ".join(fmt((m.get("heldout_accuracy_real") or {}).get(a)) for a in attributes) + " |")
    per = (entropy.get("per_attribute") or {})
    print("| entropy bits before -> after obfuscation | "
          + " | ".join(f"{fmt((per.get(a) or {}).get('real'), 2)} -> {fmt((per.get(a) or {}).get('ours'), 2)}"
                       for a in attributes) + " |")
    print()
    if real:
        print("| realism (Frechet distance, held-out adversary features) | inverted | obfuscated | unedited | "
              "blur sigma 2 | noise sigma 20 |")
        print("| --- | --- | --- | --- | --- | --- |")
        print(f"| {name} | {fmt(real.get('inverted'))} | {fmt(real.get('obfuscated'))} | {fmt(real.get('unedited'))} | "
              f"{fmt(real.get('blur'))} | {fmt(real.get('noise'))} |")


if __name__ == "__main__":
    main()
