"""Faces of known people: a CelebA-format folder with an identity file, aligned the way a
model needs, for the identity and album measurements.

The original aligned CelebA images (178x218) are in the ``celeba`` convention; a model of
another convention (``celebahq``) gets each image's largest face detected (MTCNN) and
aligned to its convention, as a photo would be. Images where no face is found are left out
and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoscrub.data.celeba import read_celeba_folder
from infoscrub.data.conventions import detect_alignment
from infoscrub.data.identities import read_identities
from infoscrub.data.images import decode_rgb, load_face, parallel_map
from infoscrub.errors import InfoscrubError
from infoscrub.faces.align import alignment_matrix, warp_crop
from infoscrub.faces.detect import detect_faces
from infoscrub.storage.files import read_bytes


@dataclass
class PeopleFaces:
    images: np.ndarray  # uint8 (N, S, S, 3), aligned in ``alignment``
    names: list[str]
    people: np.ndarray  # int (N,): the identity file's person id of each face
    labels: np.ndarray  # uint8 (N, K): CelebA labels, 1 = present
    attribute_names: list[str]
    alignment: str
    missed: list[str]  # images where no face was found
    source: str = ""  # the folder they came from

    def __len__(self) -> int:
        return len(self.names)


def aligned_from_photo(path: Path, alignment: str, size: int) -> np.ndarray | None:
    """The largest detected face of an image, aligned; None when none is found."""
    rgb = np.asarray(decode_rgb(read_bytes(path), str(path)))
    faces = detect_faces(rgb)
    if not faces:
        return None
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return warp_crop(rgb, alignment_matrix(face.landmarks, alignment, size), size)


def load_people(folder: str | Path, alignment: str, size: int, limit: int | None = None) -> PeopleFaces:
    """Every image of the folder's identity file (all splits), aligned in ``alignment`` at
    ``size``; ``limit`` keeps the first images in name order."""
    index = read_celeba_folder(folder)
    identities = read_identities(folder)
    rows = [r for r, name in enumerate(index.names) if name in identities][:limit]
    if not rows:
        raise InfoscrubError(f"{folder}: no annotated image is in the identity file")
    paths = [index.image_dir / index.names[r] for r in rows]
    if alignment == detect_alignment(index.image_dir.name):
        crops = parallel_map(lambda p: load_face(p, alignment, size), paths)
    else:
        crops = [aligned_from_photo(p, alignment, size) for p in paths]
    kept = [k for k, c in enumerate(crops) if c is not None]
    return PeopleFaces(images=np.stack([crops[k] for k in kept]),
                       names=[index.names[rows[k]] for k in kept],
                       people=np.array([identities[index.names[rows[k]]] for k in kept]),
                       labels=index.labels[[rows[k] for k in kept]], attribute_names=list(index.attribute_names),
                       alignment=alignment, missed=[index.names[rows[k]] for k, c in enumerate(crops) if c is None],
                       source=str(folder))

