"""Atomic writes: a temporary file in the same folder, then a rename over the target.

A reader never sees half a file, and a killed writer leaves only ``.NAME.*.tmp`` behind
(which the training loop removes on resume).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch

from infoscrub.storage.files import temporary_prefix


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """``write(temporary_path)`` fills the new file; then it replaces ``path`` (0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name), suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj, path: str | Path) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
    return atomic_write(path, write)


def atomic_safetensors_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: str | Path) -> Path:
    from safetensors.torch import save_file

    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def atomic_copy(source: str | Path, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))
