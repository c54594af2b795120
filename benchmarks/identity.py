"""The identity embedder on the CelebA sample's 34 people x 30 photos: where its face box
comes from, how well it verifies, how well it groups, and what it costs.

    .venv/bin/python benchmarks/identity.py [--size 128]

For each alignment convention: the median box of dlib's HOG detector on the aligned faces
at 256 px
(the ``FACE_BOX`` constants of ``infoscrub.faces.identity``), the share of same-person pairs
verified and of different-person pairs rejected at 0.6, the mean distances, seconds per
face; then purity and completeness of ``group_faces`` at several thresholds. Needs the extra
infoscrub[identity].
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "celeba_aligned_sample"


def pair_rates(embeddings: np.ndarray, people: np.ndarray, threshold: float) -> dict:
    d = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    upper = np.triu_indices(len(people), 1)
    same = (people[:, None] == people[None])[upper]
    d = d[upper]
    return {"same_pairs": int(same.sum()), "different_pairs": int((~same).sum()),
            "same_verified": round(float((d[same] < threshold).mean()), 4),
            "different_rejected": round(float((d[~same] >= threshold).mean()), 4),
            "mean_same": round(float(d[same].mean()), 4), "mean_different": round(float(d[~same].mean()), 4)}


def purity_completeness(groups: np.ndarray, people: np.ndarray) -> tuple[float, float]:
    """Purity: share of faces in their group's majority person; completeness: share of faces
    in their person's largest group."""
    purity = sum(Counter(people[groups == g]).most_common(1)[0][1] for g in set(groups)) / len(people)
    completeness = sum(Counter(groups[people == p]).most_common(1)[0][1] for p in set(people)) / len(people)
    return round(purity, 4), round(completeness, 4)


def hog_box(images: np.ndarray) -> tuple[list[float], int]:
    import dlib

    detector = dlib.get_frontal_face_detector()
    boxes = []
    for image in images:
        found = detector(np.ascontiguousarray(image), 0)
        if len(found):
            r = max(found, key=lambda r: r.area())
            boxes.append(np.array([r.left(), r.top(), r.right(), r.bottom()]) / image.shape[0])
    return [round(float(v), 4) for v in np.median(np.stack(boxes), axis=0)], len(boxes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.55, 0.6, 0.65])
    args = parser.parse_args()
    from infoscrub.evaluation.people import load_people
    from infoscrub.faces.identity import THRESHOLD, IdentityEmbedder, group_faces

    embedder = IdentityEmbedder()
    results = {}
    for alignment in ("celeba", "celebahq"):
        # HOG needs faces of 80 px: the box is measured on 256-px crops (a fraction of the crop)
        box, found = hog_box(load_people(SAMPLE, alignment, 256).images)
        people = load_people(SAMPLE, alignment, args.size)
        start = time.perf_counter()
        embeddings = embedder.embed(people.images, alignment)
        per_face = (time.perf_counter() - start) / len(people)
        rates = pair_rates(embeddings, people.people, THRESHOLD)
        grouping = {t: purity_completeness(group_faces(embeddings, t), people.people) for t in args.thresholds}
        results[alignment] = {"faces": len(people), "missed": len(people.missed), "hog_box": box,
                              "hog_found": found, "seconds_per_face": round(per_face, 4), **rates,
                              "grouping": {str(t): {"purity": p, "completeness": c,
                                                    "groups": len(set(group_faces(embeddings, t)))}
                                           for t, (p, c) in grouping.items()}}
        print(f"{alignment} at {args.size}px: {len(people)} faces ({len(people.missed)} without a face found); "
              f"HOG median box {box} ({found} found); {per_face * 1000:.0f} ms per face")
        print(f"  at {THRESHOLD}: same person verified {rates['same_verified']:.1%} of {rates['same_pairs']} pairs, "
              f"different people rejected {rates['different_rejected']:.1%} of {rates['different_pairs']}; "
              f"mean distance same {rates['mean_same']:.3f}, different {rates['mean_different']:.3f}")
        for t, entry in results[alignment]["grouping"].items():
            print(f"  group_faces at {t}: purity {entry['purity']:.3f}, completeness {entry['completeness']:.3f}, "
                  f"{entry['groups']} groups for {len(set(people.people))} people")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
