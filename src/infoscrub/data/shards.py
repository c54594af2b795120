"""Packed splits: a few safetensors shards of JPEG bytes + labels, decoded once on load.

A shard holds ``jpeg`` (all images' JPEG bytes concatenated), ``offsets`` (N+1 byte
offsets) and ``labels`` (N x 40 uint8); names and settings live in the safetensors header
and in ``manifest.json``. Images already at the model size are stored as their original
bytes (no second JPEG generation loss); others are cropped, resized and re-encoded.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open

from infoscrub.data.celeba import read_celeba_folder
from infoscrub.data.conventions import check_alignment, detect_alignment, prepare_image
from infoscrub.data.images import decode_rgb, parallel_map
from infoscrub.errors import InfoscrubError
from infoscrub.storage.atomic import atomic_safetensors_save
from infoscrub.storage.files import read_bytes

MANIFEST = "manifest.json"
FORMAT = "infoscrub-shards"
FORMAT_VERSION = 1
MAX_SHARD_BYTES = 60_000_000  # each shard fits one device call (< 64 MiB checkout)


@dataclass(frozen=True)
class PackSettings:
    split: str = "train"
    size: int = 128
    alignment: str | None = None  # None: from the release layout
    jpeg_quality: int = 95
    max_shard_bytes: int = MAX_SHARD_BYTES
    limit: int | None = None  # pack only the first N images of the split (smoke tests)


def _encode_face(path: Path, alignment: str, size: int, quality: int) -> bytes:
    data = read_bytes(path)
    image = decode_rgb(data, str(path))
    if image.size == (size, size) and data[:2] == b"\xff\xd8":
        return data  # already a model-size JPEG: keep the bytes as they are
    face = prepare_image(image, alignment, size)
    buffer = io.BytesIO()
    face.save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def pack_split(
    root: str | Path, out: str | Path, settings: PackSettings = PackSettings(),
    images: str | None = None, force: bool = False, progress: bool = False,
) -> dict:
    """Pack one split of a CelebA-format folder into shards; returns the manifest."""
    index = read_celeba_folder(root, images)
    alignment = check_alignment(settings.alignment or detect_alignment(index.image_dir.name))
    out = Path(out)
    if (out / MANIFEST).exists() and not force:
        raise InfoscrubError(f"{out} already holds packed data; use --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    rows = index.split_indices(settings.split)
    if settings.limit is not None:
        rows = rows[: settings.limit]
    if len(rows) == 0:
        raise InfoscrubError(f"split {settings.split!r} of {root} is empty")

    def encode(row: int) -> bytes:
        return _encode_face(index.image_dir / index.names[row], alignment, settings.size,
                            settings.jpeg_quality)

    if progress:
        print(f"encoding {len(rows)} images of split {settings.split} ...", flush=True)
    blobs = parallel_map(encode, list(rows))

    shards, start = [], 0
    while start < len(rows):
        end, total = start, 0
        while end < len(rows) and (end == start or total + len(blobs[end]) <= settings.max_shard_bytes - 1_000_000):
            total += len(blobs[end])
            end += 1
        part = rows[start:end]
        offsets = np.zeros(len(part) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs[start:end]])
        name = f"{settings.split}-{len(shards):03d}.safetensors"
        metadata = {
            "format": FORMAT, "version": str(FORMAT_VERSION),
            "names": json.dumps([index.names[r] for r in part]),
            "attribute_names": json.dumps(index.attribute_names),
            "size": str(settings.size), "alignment": alignment,
        }
        tensors = {
            "jpeg": torch.from_numpy(np.frombuffer(b"".join(blobs[start:end]), dtype=np.uint8).copy()),
            "offsets": torch.from_numpy(offsets),
            "labels": torch.from_numpy(index.labels[part]),
        }
        atomic_safetensors_save(tensors, metadata, out / name)
        shards.append({"file": name, "count": int(len(part)), "bytes": (out / name).stat().st_size})
        start = end
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "split": settings.split,
        "count": int(len(rows)), "size": settings.size, "alignment": alignment,
        "jpeg_quality": settings.jpeg_quality,
        "jpeg_note": "model-size JPEG sources are stored byte for byte; others re-encoded at jpeg_quality",
        "attribute_names": index.attribute_names, "source": str(Path(root).resolve()),
        "shards": shards,
    }
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / MANIFEST)
    return manifest


def is_packed(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | Path) -> dict:
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InfoscrubError(f"cannot read {file}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise InfoscrubError(f"{file} is not an infoscrub shard manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise InfoscrubError(f"{file} has shard format version {manifest.get('version')}; "
                             f"this infoscrub reads version {FORMAT_VERSION}")
    return manifest


@dataclass
class PackedArrays:
    names: list[str]
    attribute_names: list[str]
    labels: np.ndarray  # uint8 (N, 40)
    images: np.ndarray  # uint8 (N, H, W, 3)
    alignment: str
    size: int


def load_packed(path: str | Path, limit: int | None = None, workers: int | None = None) -> PackedArrays:
    """Decode every image of a packed split once, in parallel, into one uint8 array."""
    path = Path(path)
    manifest = read_manifest(path)
    size = int(manifest["size"])
    blobs: list[bytes] = []
    names: list[str] = []
    labels: list[np.ndarray] = []
    for shard in manifest["shards"]:
        file = path / shard["file"]
        try:
            with safe_open(str(file), framework="pt") as handle:
                meta = handle.metadata()
                jpeg = handle.get_tensor("jpeg").numpy().tobytes()
                offsets = handle.get_tensor("offsets").numpy()
                labels.append(handle.get_tensor("labels").numpy())
        except (OSError, Exception) as exc:  # safetensors raises its own error types
            raise InfoscrubError(f"cannot read shard {file}: {exc}") from None
        names.extend(json.loads(meta["names"]))
        blobs.extend(jpeg[offsets[i]: offsets[i + 1]] for i in range(len(offsets) - 1))
        if limit is not None and len(blobs) >= limit:
            break
    if limit is not None:
        blobs, names = blobs[:limit], names[:limit]
    images = np.empty((len(blobs), size, size, 3), dtype=np.uint8)

    def decode(i: int) -> None:
        with Image.open(io.BytesIO(blobs[i])) as image:
            images[i] = np.asarray(image.convert("RGB"))

    parallel_map(decode, list(range(len(blobs))), workers)
    return PackedArrays(names, list(manifest["attribute_names"]),
                        np.concatenate(labels)[: len(names)], images, manifest["alignment"], size)
