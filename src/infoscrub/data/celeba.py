"""Reading a CelebA-format folder: annotation files, partitions and the image folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoscrub.attributes import resolve_attributes
from infoscrub.errors import InfoscrubError

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIRS = ("img_align_celeba", "images")
SPLITS = {"train": 0, "val": 1, "test": 2}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class CelebAIndex:
    """Names, 0/1 labels of all attributes and the partition of every annotated image."""

    root: Path
    image_dir: Path
    names: list[str]
    attribute_names: list[str]
    labels: np.ndarray  # uint8 (N, len(attribute_names)), 1 = attribute present
    partitions: np.ndarray  # int8 (N,), 0 train / 1 val / 2 test

    def split_indices(self, split: str) -> np.ndarray:
        if split == "all":
            return np.arange(len(self.names))
        if split not in SPLITS:
            raise InfoscrubError(f"unknown split {split!r}; choose one of train, val, test, all")
        return np.flatnonzero(self.partitions == SPLITS[split])

    def label_columns(self, attributes: list[str]) -> np.ndarray:
        """Column indices of the chosen attributes in ``labels``."""
        chosen = resolve_attributes(attributes, self.attribute_names)
        return np.array([self.attribute_names.index(a) for a in chosen], dtype=np.int64)


def find_image_dir(root: Path, override: str | Path | None = None) -> Path:
    if override is not None:
        path = Path(override)
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise InfoscrubError(f"image folder {path} does not exist")
        return path
    for name in IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    raise InfoscrubError(
        f"{root} has no image folder; expected one of {', '.join(IMAGE_DIRS)} (or pass --images)"
    )


def read_text_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError as exc:
        raise InfoscrubError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InfoscrubError(f"{path} is not a text file") from None


def parse_attr_file(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: count line, names line, then ``NAME v1 .. vK`` (+1/-1)."""
    lines = read_text_lines(path)
    if len(lines) < 2:
        raise InfoscrubError(f"{path}: malformed, expected a count line and a names line")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise InfoscrubError(f"{path}:1: malformed, expected the image count") from None
    attribute_names = lines[1].split()
    if not attribute_names:
        raise InfoscrubError(f"{path}:2: malformed, expected the attribute names")
    rows = [(i, line.split()) for i, line in enumerate(lines[2:], start=3) if line.strip()]
    if len(rows) != count:
        raise InfoscrubError(f"{path}: header says {count} images but {len(rows)} rows follow")
    names: list[str] = []
    labels = np.empty((len(rows), len(attribute_names)), dtype=np.uint8)
    for r, (lineno, parts) in enumerate(rows):
        if len(parts) != len(attribute_names) + 1:
            raise InfoscrubError(
                f"{path}:{lineno}: malformed, expected a name and {len(attribute_names)} values"
                f" but found {len(parts)} fields"
            )
        values = parts[1:]
        if any(v not in ("1", "-1") for v in values):
            raise InfoscrubError(f"{path}:{lineno}: malformed, values must be 1 or -1")
        names.append(parts[0])
        labels[r] = [v == "1" for v in values]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InfoscrubError(f"{path}: image {dup} is listed more than once")
    return attribute_names, names, labels


def parse_partition_file(path: Path) -> dict[str, int]:
    lines = read_text_lines(path)
    partitions: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise InfoscrubError(f"{path}:{lineno}: malformed, expected 'NAME 0|1|2'")
        partitions[parts[0]] = int(parts[1])
    return partitions


def read_celeba_folder(root: str | Path, images: str | Path | None = None) -> CelebAIndex:
    """Read and cross-check a CelebA-format folder (annotations only; images are not opened)."""
    root = Path(root)
    if not root.is_dir():
        raise InfoscrubError(f"data folder {root} does not exist")
    for name in (ATTR_FILE, PARTITION_FILE):
        if not (root / name).is_file():
            raise InfoscrubError(f"{root} has no {name}; is this a CelebA-format folder?")
    image_dir = find_image_dir(root, images)
    attribute_names, names, labels = parse_attr_file(root / ATTR_FILE)
    partition_map = parse_partition_file(root / PARTITION_FILE)
    missing = [n for n in names if n not in partition_map]
    if missing:
        raise InfoscrubError(
            f"{root / PARTITION_FILE} has no partition for {len(missing)} annotated images,"
            f" e.g. {missing[0]}"
        )
    partitions = np.array([partition_map[n] for n in names], dtype=np.int8)
    return CelebAIndex(root, image_dir, names, attribute_names, labels, partitions)


def list_image_files(image_dir: Path) -> set[str]:
    return {
        entry.name
        for entry in os.scandir(image_dir)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    }
