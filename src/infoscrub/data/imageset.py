"""An in-memory image set: every image decoded once into one uint8 tensor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.data.celeba import read_celeba_folder
from infoscrub.data.conventions import check_alignment, detect_alignment
from infoscrub.data.images import load_face, parallel_map
from infoscrub.data.shards import is_packed, load_packed, read_manifest
from infoscrub.errors import InfoscrubError


@dataclass
class ImageSet:
    """Images (N, 3, S, S) uint8 and all-attribute labels (N, K) uint8 of one split."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    attribute_names: list[str]
    alignment: str
    split: str

    def __len__(self) -> int:
        return len(self.names)

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def targets(self, attributes: list[str]) -> torch.Tensor:
        """Float 0/1 labels (N, len(attributes)) of the chosen attributes, in their order."""
        chosen = resolve_attributes(attributes, self.attribute_names)
        columns = [self.attribute_names.index(a) for a in chosen]
        return self.labels[:, columns].float()

    def subset(self, indices: np.ndarray | list[int]) -> "ImageSet":
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return ImageSet(self.images[idx], self.labels[idx], [self.names[i] for i in idx.tolist()],
                        self.attribute_names, self.alignment, self.split)

    def to(self, device: torch.device | str) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), self.names,
                        self.attribute_names, self.alignment, self.split)


def load_image_set(
    path: str | Path, split: str = "train", size: int = 128, alignment: str | None = None,
    images: str | None = None, limit: int | None = None, workers: int | None = None,
) -> ImageSet:
    """Load a split from packed shards or straight from a CelebA-format folder."""
    path = Path(path)
    if is_packed(path):
        manifest = read_manifest(path)
        if split not in (manifest["split"], "any"):
            raise InfoscrubError(f"{path} holds the {manifest['split']} split, not {split}")
        if int(manifest["size"]) != size:
            raise InfoscrubError(f"{path} was packed at {manifest['size']}px, the model needs {size}px")
        if alignment is not None and alignment != manifest["alignment"]:
            raise InfoscrubError(f"{path} was packed with {manifest['alignment']} alignment, not {alignment}")
        packed = load_packed(path, limit, workers)
        arrays, names, labels = packed.images, packed.names, packed.labels
        attribute_names, alignment = packed.attribute_names, packed.alignment
        split = manifest["split"]
    else:
        index = read_celeba_folder(path, images)
        alignment = check_alignment(alignment or detect_alignment(index.image_dir.name))
        rows = index.split_indices(split)
        if limit is not None:
            rows = rows[:limit]
        if len(rows) == 0:
            raise InfoscrubError(f"split {split!r} of {path} is empty")
        arrays = np.stack(parallel_map(
            lambda r: load_face(index.image_dir / index.names[r], alignment, size), list(rows), workers))
        names = [index.names[r] for r in rows]
        labels, attribute_names = index.labels[rows], index.attribute_names
    tensor = torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous()
    return ImageSet(tensor, torch.from_numpy(np.ascontiguousarray(labels)), names,
                    list(attribute_names), alignment, split)
