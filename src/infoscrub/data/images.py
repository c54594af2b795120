"""Decoding image files and bytes with clear errors for unreadable or truncated input."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from infoscrub.data.conventions import prepare_image
from infoscrub.errors import InfoscrubError

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


# The largest photo file read: a 120-megapixel PNG with alpha is about 480 MB raw, and a
# photo file is compressed; anything larger is refused before a byte of it is read.
MAX_FILE_BYTES = 512 * 2**20


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. Anything else (a device, a FIFO,
    a socket, a folder, a larger file) is refused in one line before it is read: a device
    can stream without end and opening a FIFO waits for a writer."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InfoscrubError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InfoscrubError(f"{path} is a folder, not a photo")
        if not stat.S_ISREG(info.st_mode):
            raise InfoscrubError(f"{path} is not a regular file (a device, FIFO or socket); only photo files are read")
        if info.st_size > max_bytes:
            raise InfoscrubError(f"{path} is {info.st_size / 2**20:.0f} MB, over the limit of "
                                 f"{max_bytes / 2**20:.0f} MB for a photo file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InfoscrubError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while being read
        raise InfoscrubError(f"{path} is over the limit of {max_bytes / 2**20:.0f} MB for a photo file")
    return data


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
