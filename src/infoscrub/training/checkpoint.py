"""Self-describing checkpoints: atomic writes, safe loads, exact resume.

A checkpoint is a dict of tensors and plain values only, so ``torch.load(weights_only=True)``
reads it: format tag and version, ``kind`` (stage1, stage2, adversary, stargan, icgan),
the full config, attribute names, alignment convention, image size, step, model and
optimizer state dicts, and the RNG states. A load that fails says why and stops; it never
falls back to fresh weights (the fault STGAN's loader had).
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infoscrub.errors import InfoscrubError

FORMAT = "infoscrub-checkpoint"
VERSION = 1


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module under torch.compile / DDP wrappers."""
    while True:
        inner = getattr(module, "_orig_mod", None) or getattr(module, "module", None)
        if inner is None or not isinstance(inner, nn.Module):
            return module
        module = inner


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_safetensors_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                            path: str | Path) -> None:
    """safetensors file written to a temp name in the same folder, then renamed."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, *, kind: str, config: dict[str, Any], attributes: list[str],
                    alignment: str, image_size: int, step: int, models: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    extra: dict[str, Any] | None = None) -> None:
    state = {
        "format": FORMAT, "version": VERSION, "kind": kind, "config": config,
        "attributes": list(attributes), "alignment": alignment, "image_size": int(image_size),
        "step": int(step),
        "models": {name: unwrap(m).state_dict() for name, m in models.items()},
        "optimizers": {name: o.state_dict() for name, o in (optimizers or {}).items()},
        "rng": rng_state(), "extra": extra or {},
    }
    atomic_torch_save(state, path)


def load_checkpoint(path: str | Path, kinds: str | tuple[str, ...] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; ``kinds`` restricts what is accepted."""
    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and unpickler errors all mean "not ours"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InfoscrubError(f"{path} is not a readable infoscrub checkpoint ({first[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InfoscrubError(f"{path} is not an infoscrub checkpoint")
    if state.get("version") != VERSION:
        raise InfoscrubError(f"{path} has checkpoint version {state.get('version')}; this infoscrub reads {VERSION}")
    if isinstance(kinds, str):
        kinds = (kinds,)
    if kinds and state["kind"] not in kinds:
        raise InfoscrubError(f"{path} is a {state['kind']} checkpoint; expected {' or '.join(kinds)}")
    return state


INFO_KEYS = ("kind", "config", "attributes", "alignment", "image_size", "step")


def checkpoint_info(state: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says about itself, without the weights (kept beside loaded models)."""
    return {key: state[key] for key in INFO_KEYS}


def load_module_state(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Strict load with a one-line error on any mismatch."""
    try:
        unwrap(module).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InfoscrubError(f"checkpoint does not fit the {what} network: {detail}") from None
