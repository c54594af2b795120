"""The README's before/after picture, made with the bundled weights:
the face of docs/images/astronaut.jpg before | inverted | obfuscated (Male, Smiling).

    .venv/bin/python scripts/before_after.py [--out docs/images/astronaut_before_after.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from infoscrub.photo_io import read_photo
from infoscrub.scrubber import Scrubber

ROOT = Path(__file__).resolve().parents[1]
ATTRIBUTES = ["Male", "Smiling"]


def face_crop(rgb: np.ndarray, box: list[float], margin: float = 0.6) -> np.ndarray:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, top = max(0, int(x0 - margin * w)), max(0, int(y0 - margin * h))
    right, bottom = min(rgb.shape[1], int(x1 + margin * w)), min(rgb.shape[0], int(y1 + margin * h))
    return rgb[top:bottom, left:right]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=ROOT / "docs" / "images" / "astronaut.jpg")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "astronaut_before_after.jpg")
    args = parser.parse_args()
    scrubber = Scrubber.load()
    photo = read_photo(args.photo)
    panels, lines = [], []
    for mode in ("invert", "obfuscate"):
        edited, report = scrubber.scrub_photo(photo, ATTRIBUTES, mode=mode)
        face = report["faces"][0]
        if not panels:
            panels.append(face_crop(photo.rgb, face["box"]))
        panels.append(face_crop(edited.rgb, face["box"]))
        beliefs = ", ".join(f"p({a}) {v['p_before']:.2f} -> {v['p_after']:.2f}"
                            for a, v in face["attacker"].items() if a in ATTRIBUTES)
        lines.append(f"{mode}: {beliefs}")
    height = min(p.shape[0] for p in panels)
    strip = np.concatenate([p[:height] for p in panels], axis=1)
    Image.fromarray(strip).save(args.out, quality=90)
    print(f"wrote {args.out} (before | inverted | obfuscated); the report attacker's beliefs: " + "; ".join(lines))


if __name__ == "__main__":
    main()
