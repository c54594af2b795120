"""Write the measured tables of docs/privacy.md from one evaluation of the shipped model.

    infoscrub evaluate --checkpoint src/infoscrub/assets/weights/editor.safetensors \
        --adversary state/heldout_adversary.safetensors --data ../shared/data/celebahq128 \
        --per-attribute 50 --identity 50 --reshare --album ../shared/data/celeba_aligned_sample \
        --adaptive --adaptive-sees-strength --adaptive-policy invert --adaptive-policy obfuscate ... \
        --out /tmp/audit
    python scripts/privacy_tables.py /tmp/audit [--doc docs/privacy.md]

Only the part between the document's privacy-tables markers changes; the prose around them
is kept. Run it whenever the shipped weights change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.privacy_audit import audit_tables, replace_tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", help="an `infoscrub evaluate` output folder (its metrics.json)")
    parser.add_argument("--doc", default=str(Path(__file__).resolve().parent.parent / "docs" / "privacy.md"))
    args = parser.parse_args(argv)
    try:
        metrics_path = Path(args.evaluation) / "metrics.json"
        if not metrics_path.is_file():
            raise InfoscrubError(f"{metrics_path} does not exist; give an `infoscrub evaluate` output folder")
        doc = Path(args.doc)
        updated = replace_tables(doc.read_text(), audit_tables(json.loads(metrics_path.read_text())))
    except (InfoscrubError, OSError, ValueError) as exc:
        print(f"privacy_tables: {exc}", file=sys.stderr)
        return 2
    temp = doc.with_name(doc.name + ".tmp")
    temp.write_text(updated)
    temp.replace(doc)  # never a half-written document
    print(f"{doc}: tables from {metrics_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
