"""``bulk --album``: a collection scrubbed as one album, in passes over Ray actors.

1. ``FaceReader``: every photo's faces (box, landmarks), their identity embeddings and the
   model's readings of them; small rows, no pixels, come back to the driver;
2. the driver groups the faces into people (``faces.identity.group_faces``) and takes each
   person's values from their readings (``consistency.values_from_codes``);
3. to obfuscate, ``MixSummer``: the mixer's maps of each person's faces, made from the
   person's values and summed where the photos are; the driver averages them;
4. ``actor.ScrubActor`` scrubs every photo with its people's edits (``consistent_album.AlbumScrub``
   with the plan), so each person gets one outcome across the collection.

The plan depends on every photo (one photo more can change a person's majority), so passes
1-3 read the whole collection on every run, and the done records' key includes the plan: a
rerun on the same photos skips the finished ones, a changed collection redoes them all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infoscrub.consistent_album import Album, AlbumFace, PeopleFinder
from infoscrub.bulk.sources import row_paths
from infoscrub.consistency import PersonEdits, values_from_codes
from infoscrub.faces.detect import Face
from infoscrub.faces.identity import group_faces
from infoscrub.photo_job import as_error, load_photo

ALPHA_SCALE = 2 ** 24  # mixing maps are summed as whole numbers of 1/2^24 (exact in any order)
FACE_TYPES = {"relative": "string", "sha256": "string", "error": "string", "face": "int32", "box": "string",
              "score": "float64", "landmarks": "string", "embedding": "list_float32", "codes": "list_float32"}


def face_schema():
    import pyarrow as pa

    kinds = {"string": pa.string(), "int32": pa.int32(), "float64": pa.float64(),
             "list_float32": pa.list_(pa.float32())}
    return pa.schema([(name, kinds[kind]) for name, kind in FACE_TYPES.items()])


def load_scrubber(weights: dict[str, Any], threads: int):
    import cv2
    import torch

    from infoscrub.scrubber import Scrubber

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    return Scrubber.load(weights["checkpoint"], attacker=weights["attacker"], device=weights["device"],
                         identity=weights.get("identity", False))


class FaceReader:
    """Pass 1: one row per face (or one per photo without a face, or with an error)."""

    def __init__(self, weights: dict[str, Any], threads: int, max_pixels: int):
        self.scrubber = load_scrubber(weights, threads)
        self.max_pixels = max_pixels

    def __call__(self, batch: dict[str, Any]):
        import pyarrow as pa
        import torch

        from infoscrub.scrubber import to_model

        rows: list[dict[str, Any]] = []
        for i in range(len(batch["relative"])):
            source, _, _, relative = row_paths(batch, i)
            try:
                sha, photo = load_photo(Path(source), self.max_pixels)
                finder = PeopleFinder(self.scrubber)  # this photo's faces only
                finder.add(str(relative), photo)
            except Exception as exc:  # one photo's problem is its row's
                rows.append({"relative": str(relative), "error": str(as_error(exc))})
                continue
            if not finder.faces:
                rows.append({"relative": str(relative), "sha256": sha})
                continue
            crops = [c.astype(np.float32) for c in finder.crops]
            with torch.inference_mode():
                codes = self.scrubber.editor.codes(to_model(crops, self.scrubber.device)).float().cpu().numpy()
            for face, vector, code in zip(finder.faces, finder.embeddings, codes):
                rows.append({"relative": str(relative), "sha256": sha, "face": face.index,
                             "box": json.dumps([float(v) for v in face.face.box]), "score": float(face.face.score),
                             "landmarks": json.dumps(np.asarray(face.face.landmarks, float).tolist()),
                             "embedding": vector.tolist(), "codes": code.tolist()})
        return pa.Table.from_pylist(rows, schema=face_schema())


class MixSummer:
    """Pass 3 (obfuscation): per person in the batch, the sum of the mixer's maps of their
    faces (made from the person's values) and how many faces."""

    def __init__(self, weights: dict[str, Any], threads: int, max_pixels: int, plan: PersonEdits,
                 faces: dict[str, list[tuple[Face, int]]]):
        self.scrubber = load_scrubber(weights, threads)
        self.max_pixels, self.plan, self.faces = max_pixels, plan, faces

    def __call__(self, batch: dict[str, Any]):
        import pyarrow as pa
        import torch

        from infoscrub.consistency import mixing_sums
        from infoscrub.scrubber import to_model

        size = int(self.scrubber.editor.image_size)
        sums = torch.zeros(len(self.plan.people), 1, size, size, dtype=torch.int64)
        counts = torch.zeros(len(self.plan.people), dtype=torch.int64)
        for i in range(len(batch["relative"])):
            source, _, _, relative = row_paths(batch, i)
            found = self.faces.get(relative) or []
            if not found:
                continue
            _, photo = load_photo(Path(source), self.max_pixels)
            crops = self.scrubber.align(photo, [face for face, _ in found]).crops
            with torch.inference_mode():
                part, n = mixing_sums(self.scrubber.editor, to_model(crops, self.scrubber.device),
                                      [person for _, person in found], self.plan)
            # whole numbers add up the same in any order: a rerun, however its photos are
            # batched, makes the same maps to the last bit (the done records' key includes them)
            sums += torch.round(part.double() * ALPHA_SCALE).long()
            counts += n.long()
        present = torch.nonzero(counts).flatten().tolist()
        return pa.table({"row": pa.array(present, pa.int32()),
                         "count": pa.array([int(counts[r]) for r in present], pa.int64()),
                         "alpha": pa.array([sums[r].flatten().tolist() for r in present], pa.list_(pa.int64()))})


@dataclass
class AlbumPlan:
    """What pass 4 needs: the people's edits and, per photo, its faces and their people."""

    album: Album
    plan: PersonEdits
    faces: dict[str, list[tuple[Face, int]]]  # relative -> [(face, person id)], [] when faceless
    sha256: dict[str, str]  # relative -> the bytes the album was read from
    errors: dict[str, str]  # relative -> why it could not be read
    editor_attributes: list[str]  # the model's attributes: the columns of the plan's values
    image_size: int  # the model's: the side of the mixing maps

    def key(self) -> str:
        """A digest of the plan: who is who and what each person gets."""
        digest = hashlib.sha256()
        digest.update(json.dumps(sorted(self.sha256.items())).encode())
        digest.update(np.asarray(self.album.person, np.int64).tobytes())
        digest.update(self.plan.values.numpy().tobytes())
        if self.plan.alpha is not None:
            digest.update(self.plan.alpha.half().numpy().tobytes())
        return digest.hexdigest()[:16]

    def photo_album(self, relative: str) -> Album:
        """One photo as an album of its own faces, for ``AlbumScrub(plan=...)``."""
        found = self.faces[relative]
        return Album(photos=[relative], faces=[AlbumFace(0, i, face) for i, (face, _) in enumerate(found)],
                     person=np.array([person for _, person in found], dtype=np.int64),
                     crops=np.zeros((0, 1, 1, 3), np.float16), embeddings=np.zeros((0, 128), np.float32),
                     threshold=self.album.threshold)


def plan_from_faces(table, attributes: list[str], mode: str, threshold: float, editor) -> AlbumPlan:
    """Pass 2 on the driver: the people and their values from pass 1's rows."""
    import torch

    # batches come back in any order: sorted, the same collection makes the same people,
    # numbered the same way, on every run
    rows = sorted(table.to_pylist(), key=lambda r: (r["relative"], -1 if r["face"] is None else r["face"]))
    photos: list[str] = list(dict.fromkeys(r["relative"] for r in rows))
    number = {name: k for k, name in enumerate(photos)}
    with_face = [r for r in rows if r["face"] is not None]
    faces = [AlbumFace(number[r["relative"]], r["face"],
                       Face(box=tuple(json.loads(r["box"])), score=r["score"],
                            landmarks=np.asarray(json.loads(r["landmarks"]), np.float64)))
             for r in with_face]
    embeddings = np.asarray([r["embedding"] for r in with_face], np.float32).reshape(-1, 128)
    album = Album(photos, faces, group_faces(embeddings, threshold), np.zeros((0, 1, 1, 3), np.float16),
                  embeddings, threshold)
    codes = torch.tensor([r["codes"] for r in with_face], dtype=torch.float32).reshape(len(with_face), -1)
    plan = values_from_codes(codes, album.person, attributes, mode)
    per_photo: dict[str, list[tuple[Face, int]]] = {r["relative"]: [] for r in rows if r["error"] is None}
    for face, person, row in zip(faces, album.person, with_face):
        per_photo[row["relative"]].append((face.face, int(person)))
    return AlbumPlan(album, plan, per_photo, {r["relative"]: r["sha256"] for r in rows if r["sha256"]},
                     {r["relative"]: r["error"] for r in rows if r["error"] is not None},
                     list(editor.attributes), int(editor.image_size))


def add_mixing(album_plan: AlbumPlan, tables) -> None:
    """Pass 3's partial sums (an iterable of its tables, added up as they come) averaged into
    each person's mixing map."""
    import torch

    size = album_plan.image_size
    sums = torch.zeros(len(album_plan.plan.people), 1, size, size, dtype=torch.int64)
    counts = torch.zeros(len(album_plan.plan.people), dtype=torch.int64)
    for table in tables:
        for row, count, alpha in zip(table.column("row").to_pylist(), table.column("count").to_pylist(),
                                     table.column("alpha").to_pylist()):
            sums[row] += torch.tensor(alpha, dtype=torch.int64).view(1, size, size)
            counts[row] += count
    album_plan.plan.alpha = (sums.double() / ALPHA_SCALE / counts.clamp_min(1).view(-1, 1, 1, 1)).float()


def judged_from_rows(album_plan: AlbumPlan, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The report rows' beliefs per album face row, for ``consistent_album.album_report``."""
    index = {(album_plan.album.photos[f.photo], f.index): k for k, f in enumerate(album_plan.album.faces)}
    judged: dict[int, dict[str, Any]] = {}
    for row in rows:
        k = index.get((row["relative"], row["face"]))
        if k is None or not row.get("belief_before") or not row.get("belief_after"):
            continue
        before, after = json.loads(row["belief_before"]), json.loads(row["belief_after"])
        judged[k] = {a: {"p_before": before[a], "p_after": after[a]} for a in before if a in after}
    return judged
