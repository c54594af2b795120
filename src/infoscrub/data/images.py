"""Decoding image files and bytes with clear errors for unreadable or truncated input."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from infoscrub.data.conventions import prepare_image
from infoscrub.errors import InfoscrubError
from infoscrub.storage.files import read_bytes

T = TypeVar("T")
R = TypeVar("R")


def decode_rgb(data: bytes, what: str = "image") -> Image.Image:
    """Fully decode ``data`` to an RGB image; a truncated or non-image file is an error."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # forces the whole decode, so truncation is caught here
            return image.convert("RGB")
    except UnidentifiedImageError:
        raise InfoscrubError(f"{what} is not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InfoscrubError(f"{what} is unreadable or truncated ({exc})") from None


def load_face(path: Path, alignment: str, size: int) -> np.ndarray:
    """One stored face image as an aligned ``size`` x ``size`` uint8 HWC array."""
    image = prepare_image(decode_rgb(read_bytes(path), str(path)), alignment, size)
    return np.asarray(image, dtype=np.uint8)


def parallel_map(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """Map in threads: Pillow releases the GIL while decoding, so threads use every core."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(items) < 64:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items, chunksize=64))
