"""Files, the safe way: reading a regular file only, of bounded size, checked before a byte
is read (every photo, manifest row and shard goes through here); its SHA-256; the name of a
temporary file beside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from infoscrub.errors import InfoscrubError

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


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary file beside ``name``: its first 100 bytes, so that a name
    near the file system's 255-byte limit still leaves room for the temporary's suffixes."""
    return "." + os.fsdecode(os.fsencode(name)[:100]) + "."


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of a file's bytes, read in chunks (None when it cannot be read)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
