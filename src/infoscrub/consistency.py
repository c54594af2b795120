"""One outcome per person: the same edit for every face of a person, so no photo of an album
contradicts another.

Editing each photo on its own gives a person glasses in one photo (where the model read
them as absent) and none in the next (where it read them as present), and obfuscation
mixes each photo differently: an attacker who compares or averages the photos learns the
truth back. Here a person's values are read once from all their faces (the majority of the
model's readings, SPEC §2's a_i > 0.5 per face) and every face gets the same targets:
a'_i = 1 - (the person's value); when obfuscating, every face also gets the same mixing map
alpha: the mean of the mixer's maps over the person's faces (faces are aligned, so a pixel
of the map is the same place of the face in every photo).

Works with any ``FaceEditor`` for inversion (the baselines take per-face values through
``labels``); obfuscation needs an editor with a mixer (``mixing`` and ``edit(alpha=...)``).
The groups (who is who) come from the caller: a face-recognition clustering for photos
(``infoscrub.consistent_album``), the identity file in the evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from infoscrub.editing import require_mixer
from infoscrub.errors import InfoscrubError

BATCH = 16  # faces per model call


@dataclass
class PersonEdits:
    """What every face of each person gets. Rows follow ``people`` (the group ids)."""

    attributes: list[str]  # the chosen attributes
    mode: str  # invert | obfuscate
    people: list[int]  # group ids, one row each below
    reading: torch.Tensor  # (G, n) float: share of the person's faces read as 'present'
    values: torch.Tensor  # (G, n) float 0/1: the person's values (majority of the readings)
    alpha: torch.Tensor | None  # (G, 1, S, S): the person's mixing map (obfuscate only)

    def rows(self, groups: np.ndarray | list[int]) -> torch.Tensor:
        where = {p: r for r, p in enumerate(self.people)}
        try:
            return torch.as_tensor([where[int(g)] for g in groups], dtype=torch.long)
        except KeyError as exc:
            raise InfoscrubError(f"person {exc.args[0]} has no planned edit") from None


def batches(faces: torch.Tensor, size: int = BATCH) -> Iterator[tuple[slice, torch.Tensor]]:
    for start in range(0, len(faces), size):
        part = slice(start, start + size)
        yield part, faces[part].float()


def group_index(groups: np.ndarray | list[int]) -> tuple[list[int], torch.Tensor]:
    """(the distinct group ids in order of first appearance, each face's row among them)."""
    ids: dict[int, int] = {}
    rows = [ids.setdefault(int(g), len(ids)) for g in groups]
    return list(ids), torch.as_tensor(rows, dtype=torch.long)


def group_mean(values: torch.Tensor, rows: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Per-group mean of ``values`` (N, ...) given each row's group ``rows`` (N,)."""
    flat = values.reshape(len(values), int(np.prod(values.shape[1:]))).float()
    sums = torch.zeros(n_groups, flat.shape[1], dtype=flat.dtype, device=flat.device)
    sums.index_add_(0, rows.to(flat.device), flat)
    counts = torch.bincount(rows.to(flat.device), minlength=n_groups).clamp_min(1).to(flat.dtype)
    return (sums / counts[:, None]).reshape(n_groups, *values.shape[1:])


def majority(codes: torch.Tensor, rows: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(share of each group's faces read as present, the group's values): the majority of the
    per-face readings (code > 0.5); a tie goes to the mean code."""
    reading = group_mean((codes > 0.5).float(), rows, n_groups)
    mean_code = group_mean(codes.float(), rows, n_groups)
    values = torch.where(reading == 0.5, (mean_code > 0.5).float(), (reading > 0.5).float())
    return reading, values


def plan_person_edits(editor, faces: torch.Tensor, groups: np.ndarray | list[int], attributes: list[str],
                      mode: str = "invert") -> PersonEdits:
    """Read every person's values from all their ``faces`` ((N, 3, S, S) in [-1, 1], aligned
    for ``editor``; group id per face in ``groups``) and, to obfuscate, their mixing map."""
    if len(faces) != len(groups):
        raise InfoscrubError(f"{len(faces)} faces but {len(groups)} group ids")
    if mode == "obfuscate":
        require_mixer(editor)
    codes = torch.cat([editor.codes(x).float().cpu() for _, x in batches(faces)]) if len(faces) else \
        torch.zeros(0, len(editor.attributes))
    plan = values_from_codes(codes, groups, attributes, mode)
    if mode == "obfuscate" and plan.people:
        sums, counts = mixing_sums(editor, faces, groups, plan, codes)
        plan.alpha = sums / counts.clamp_min(1).view(-1, 1, 1, 1)
    return plan


def values_from_codes(codes: torch.Tensor, groups: np.ndarray | list[int], attributes: list[str],
                      mode: str = "invert") -> PersonEdits:
    """Each person's values from the model's readings ``codes`` (N, n) of all their faces
    (no mixing map yet: ``mixing_sums`` adds it up where the faces are)."""
    people, rows = group_index(groups)
    reading, values = majority(codes.float(), rows, len(people))
    return PersonEdits(list(attributes), mode, people, reading, values, None)


def mixing_sums(editor, faces: torch.Tensor, groups: np.ndarray | list[int], plan: PersonEdits,
                codes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the mixer's maps per person (G, 1, S, S), faces per person (G,)) for these
    faces, each map made from its person's values: partial sums add up across machines.
    ``codes``: the faces' readings when already known (saves an encoder pass)."""
    rows = plan.rows(groups)
    size = faces.shape[-1]
    sums = torch.zeros(len(plan.people), 1, size, size)
    for part, x in batches(faces):
        read = editor.codes(x).float().cpu() if codes is None else codes[part]
        labels = face_values(editor, read, plan.values[rows[part]], plan.attributes)
        sums.index_add_(0, rows[part], editor.mixing(x, plan.attributes, labels=labels).float().cpu())
    return sums, torch.bincount(rows, minlength=len(plan.people)).float()


def face_values(editor, codes: torch.Tensor, person_values: torch.Tensor, attributes: list[str]) -> torch.Tensor:
    """The values a face's edit starts from: its person's for the chosen attributes, its own
    reading for the others (an editor such as StarGAN sets every attribute from ``labels``,
    and a person's smile in one photo must not spread to the others)."""
    mask = torch.tensor([a in attributes for a in editor.attributes], dtype=torch.bool)
    return torch.where(mask, person_values, (codes > 0.5).float())


def edit_people(editor, faces: torch.Tensor, groups: np.ndarray | list[int], plan: PersonEdits,
                strength: float = 1.0) -> torch.Tensor:
    """The faces edited by ``plan``: every face of a person with the same targets (and the
    same mixing map), (N, 3, S, S) in [-1, 1] on the CPU."""
    if len(faces) != len(groups):
        raise InfoscrubError(f"{len(faces)} faces but {len(groups)} group ids")
    rows = plan.rows(groups)
    out = []
    for part, x in batches(faces):
        codes = editor.codes(x).float().cpu()
        labels = face_values(editor, codes, plan.values[rows[part]], plan.attributes)
        extra = {} if plan.alpha is None else {"alpha": plan.alpha[rows[part]]}
        out.append(editor.edit(x, plan.attributes, plan.mode, strength, labels=labels, **extra).float().cpu())
    return torch.cat(out) if out else faces.float()
