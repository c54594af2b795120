"""The multi-photo attacker (``evaluate --album``): does the protection hold when an attacker
sees many photos of the same person?

For each person of a set with identities (``evaluation.people``: CelebA's identity file),
the adversary's belief about an attribute is averaged over k of their photos (k = 1, 3, 10;
``draws`` random choices of k photos per person, or every choice when there are fewer),
and the averaged belief is compared with the person's value: the majority of their photos'
labels (people whose labels split evenly are left out). Conditions:

- ``original``: the photos as they are: how much the album gives away unprotected;
- ``per_photo_invert`` / ``per_photo_obfuscate``: every photo scrubbed on its own (what
  ``scrub`` does photo by photo: the values read from each face, the mixer's own map);
- ``album_invert`` / ``album_obfuscate``: the album scrubbed as one (``consistency``: every
  face of a person gets the person's values and one mixing map), with the identity file's
  people as the groups, so the numbers measure consistency, not the clustering (whose
  purity and completeness ``benchmarks/identity.py`` measures).

Accuracy: share of (person, draw) pairs where the averaged belief is on the person's side of
0.5 (inversion aims below 0.5, i.e. at the false value; obfuscation at 0.5, where the
entropy of the averaged belief is 1 bit). ``contradicting``: share of people whose scrubbed
photos the adversary reads both ways, the album that gives itself away by comparison.
Edits are quantised to uint8 before they are judged, as saved photos are.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import torch

from infoscrub.consistency import edit_people, plan_person_edits
from infoscrub.data.batches import to_model_range, to_uint8
from infoscrub.edit_request import MODES
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.metrics import entropy_bits

KS = (1, 3, 10)
DRAWS = 50
CONDITIONS = ("original", "per_photo_invert", "album_invert", "per_photo_obfuscate", "album_obfuscate")


def person_values(labels: np.ndarray, people: np.ndarray) -> dict[int, int]:
    """Each person's value of one attribute: the majority of their photos' labels (0/1);
    a person whose labels split evenly has none."""
    out = {}
    for person in dict.fromkeys(int(p) for p in people):
        share = float(np.mean(labels[people == person]))
        if share != 0.5:
            out[person] = int(share > 0.5)
    return out


def draws_of(n: int, k: int, draws: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """``draws`` random sets of k of n photos, or all of them when there are no more."""
    if math.comb(n, k) <= draws:
        return list(combinations(range(n), k))
    return [tuple(rng.choice(n, size=k, replace=False)) for _ in range(draws)]


def averaging_attacker(p: np.ndarray, people: np.ndarray, truth: dict[int, int], ks: tuple[int, ...] = KS,
                       draws: int = DRAWS, seed: int = 0) -> dict[str, dict[str, float | int | None]]:
    """Per k: the attacker's accuracy (averaged belief on the person's side of 0.5) and the
    mean entropy of the averaged belief, over the people with at least k photos (each person
    weighs the same)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float | int | None]] = {}
    for k in ks:
        accuracy, entropy = [], []
        for person, value in truth.items():
            beliefs = p[people == person]
            if len(beliefs) < k:
                continue
            means = np.array([beliefs[list(chosen)].mean() for chosen in draws_of(len(beliefs), k, draws, rng)])
            accuracy.append(float(np.mean((means > 0.5) == bool(value))))
            entropy.append(float(np.mean([entropy_bits(float(m)) for m in means])))
        out[str(k)] = {"people": len(accuracy),
                       "accuracy": float(np.mean(accuracy)) if accuracy else None,
                       "entropy_bits": float(np.mean(entropy)) if entropy else None}
    return out


def contradicting(p: np.ndarray, people: np.ndarray, truth: dict[int, int]) -> float | None:
    """Share of people whose photos the attacker reads both ways (some above 0.5, some below)."""
    split = [len(set((p[people == person] > 0.5).tolist())) > 1 for person in truth]
    return float(np.mean(split)) if split else None


def judged(attacker, images: torch.Tensor, column: int, batch_size: int) -> np.ndarray:
    """The adversary's p(present) for one attribute, on images quantised as saved photos."""
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_range(to_uint8(images[start:start + batch_size]))
        out.append(attacker.predict(x)[:, column].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def per_photo(editor, faces: torch.Tensor, attribute: str, mode: str, batch_size: int) -> torch.Tensor:
    return torch.cat([editor.edit(faces[s:s + batch_size], [attribute], mode).float().cpu()
                      for s in range(0, len(faces), batch_size)])


def evaluate_album(editor, attacker, people, attributes: list[str], ks: tuple[int, ...] = KS,
                   draws: int = DRAWS, seed: int = 0, batch_size: int = 64) -> dict[str, Any]:
    """The multi-photo attacker on ``people`` (``evaluation.people.PeopleFaces``, aligned for
    ``editor``) for each of ``attributes``: per attribute, condition and k, the accuracy and
    entropy of the averaged belief; and their means over the attributes."""
    if people.alignment != editor.alignment or people.images.shape[1] != editor.image_size:
        raise InfoscrubError(f"the people's faces are {people.alignment} at {people.images.shape[1]} px; "
                             f"the model needs {editor.alignment} at {editor.image_size} px")
    for a in attributes:
        if a not in attacker.attributes or a not in people.attribute_names:
            raise InfoscrubError(f"{a}: the adversary or the people's labels do not cover it")
    faces = to_model_range(torch.from_numpy(people.images).permute(0, 3, 1, 2).contiguous())
    groups = np.asarray(people.people)
    per: dict[str, Any] = {}
    for attribute in attributes:
        truth = person_values(people.labels[:, people.attribute_names.index(attribute)].astype(int), groups)
        column = list(attacker.attributes).index(attribute)
        modes = MODES if editor.can_obfuscate else ("invert",)
        images = {"original": faces}
        for mode in modes:
            images[f"per_photo_{mode}"] = per_photo(editor, faces, attribute, mode, batch_size)
            plan = plan_person_edits(editor, faces, groups, [attribute], mode)
            images[f"album_{mode}"] = edit_people(editor, faces, groups, plan)
        entry: dict[str, Any] = {"people": len(truth)}
        for condition, edited in images.items():
            p = judged(attacker, edited, column, batch_size)
            entry[condition] = {"k": averaging_attacker(p, groups, truth, ks, draws, seed),
                                "contradicting": contradicting(p, groups, truth)}
        per[attribute] = entry
    return {"attributes": list(attributes), "ks": list(ks), "draws": draws, "seed": seed,
            "people": int(len(set(groups.tolist()))), "faces": int(len(groups)),
            "conditions": [c for c in CONDITIONS if c in next(iter(per.values()), {})],
            "per_attribute": per, "mean": mean_over_attributes(per, ks)}


def mean_over_attributes(per: dict[str, Any], ks: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for condition in CONDITIONS:
        entries = [e[condition] for e in per.values() if condition in e]
        if not entries:
            continue

        def mean(values: list[float | None]) -> float | None:
            kept = [v for v in values if v is not None]
            return float(np.mean(kept)) if kept else None

        out[condition] = {"k": {str(k): {key: mean([e["k"][str(k)][key] for e in entries])
                                         for key in ("accuracy", "entropy_bits")} for k in ks},
                          "contradicting": mean([e["contradicting"] for e in entries])}
    return out


NAMES = {"original": "Original photos", "per_photo_invert": "Inverted photo by photo",
         "album_invert": "Inverted as an album", "per_photo_obfuscate": "Obfuscated photo by photo",
         "album_obfuscate": "Obfuscated as an album"}


def album_section(m: dict[str, Any]) -> list[str]:
    """The report section of ``evaluate --album`` (from metrics.json's 'album')."""
    album = m.get("album")
    if not album:
        return []
    ks = [str(k) for k in album["ks"]]
    lines = ["## The multi-photo attacker (`--album`)", "",
             f"{album['people']} people, {album['faces']} faces (`{album.get('data', '')}`). The adversary's "
             f"belief averaged over k photos of a person ({album['draws']} draws of k photos per person), "
             "against the person's value (majority of their labels); mean over "
             f"{', '.join(album['attributes'])}. Accuracy: the averaged belief is on the true side of 0.5 "
             "(lower is better after inversion; 0.5 is chance). Entropy of the averaged belief in bits "
             "(1 = undecided). Contradicting: people whose photos the adversary reads both ways (for the "
             "originals: how often a person's own photos disagree).", ""]
    header = (["Condition"] + [f"Acc k={k}" for k in ks] + [f"Entropy k={k}" for k in ks]
              + ["Contradicting"])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for condition, entry in album["mean"].items():
        acc = [entry["k"][k]["accuracy"] for k in ks]
        ent = [entry["k"][k]["entropy_bits"] for k in ks]
        cells = ([NAMES.get(condition, condition)] + [fmt(v) for v in acc] + [fmt(v) for v in ent]
                 + [fmt(entry["contradicting"])])
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"
