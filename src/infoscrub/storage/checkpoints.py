"""Self-describing checkpoints: atomic writes, safe loads, exact resume.

A checkpoint is a dict of tensors and plain values only, so ``torch.load(weights_only=True)``
reads it: format tag and version, ``kind`` (stage1, stage2, adversary, stargan, icgan),
the full config, attribute names, alignment convention, image size, step, model and
optimizer state dicts, and the RNG states. A load that fails says why and stops; it never
falls back to fresh weights (the fault STGAN's loader had). Every field a loader relies on is
checked here first, so a damaged or crafted file is refused in one line, never a traceback.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infoscrub.alignments import ALIGNMENTS
from infoscrub.attributes import CELEBA_ATTRIBUTES
from infoscrub.errors import InfoscrubError
from infoscrub.kinds import KINDS
from infoscrub.storage.atomic import atomic_torch_save

FORMAT = "infoscrub-checkpoint"
VERSION = 1
# Faces are cropped and edited at this size: a crafted 100000 would make the photo pipeline
# allocate tens of gigabytes.
IMAGE_SIZES = range(16, 1025)


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
    """Read and validate a checkpoint; ``kinds`` restricts what is accepted.

    Tensors are not checked for NaN here: a diverged run's checkpoint is kept to be read back
    and inspected. The inference loaders refuse non-finite weights."""
    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch's notes (pickle protocol) would add lines
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and unpickler errors all mean "not ours"
        raise InfoscrubError(f"{path} is not a readable infoscrub checkpoint ({load_failure(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InfoscrubError(f"{path} is not an infoscrub checkpoint")
    if state.get("version") != VERSION:
        raise InfoscrubError(f"{path} has checkpoint version {state.get('version')}; this infoscrub reads {VERSION}")
    check_info(path, state)
    check_state_tables(path, state)
    if isinstance(kinds, str):
        kinds = (kinds,)
    if kinds and state["kind"] not in kinds:
        raise InfoscrubError(f"{path} is a {state['kind']} checkpoint; expected {' or '.join(kinds)}")
    return state


def load_failure(exc: Exception) -> str:
    """torch's reason in a few words. Its weights-only refusal advises loading the file again
    with weights_only=False, i.e. running whatever code a crafted pickle holds: never pass
    that advice on."""
    text = str(exc)
    if "Weights only load failed" in text:
        # Keep only what was refused: the first sentence after "WeightsUnpickler error:".
        after = text.partition("WeightsUnpickler error:")[2].strip()
        detail = after.splitlines()[0].split(". ")[0].strip()[:160] if after else ""
        if "weights_only" in detail or "safe_globals" in detail:
            detail = ""
        return ("it holds objects other than tensors and plain values and was not unpickled"
                + (f": {detail}" if detail else ""))
    first = " ".join(text.split()).split(". ")[0][:160]
    return f"damaged, truncated or not a PyTorch file: {type(exc).__name__}" + (f": {first}" if first else "")


def shown(value: Any) -> str:
    """A value read from a file, short enough for a one-line message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_kind(path: Path, kind: Any) -> None:
    if not isinstance(kind, str) or kind not in KINDS:
        raise InfoscrubError(f"{path}: kind must be one of {', '.join(KINDS)}, not {shown(kind)}")


def check_attribute_names(path: Path, names: Any) -> None:
    """Head sizes and edit choices come from this list: the project's names, each once."""
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)
            and set(names) <= set(CELEBA_ATTRIBUTES) and len(set(names)) == len(names)):
        raise InfoscrubError(f"{path}: attributes must be a non-empty list of distinct CelebA "
                             f"attribute names, not {shown(names)}")


def check_alignment_name(path: Path, name: Any) -> None:
    """The photo pipeline aligns faces by this name: one of the known conventions."""
    if not isinstance(name, str) or name not in ALIGNMENTS:
        raise InfoscrubError(f"{path}: alignment must be one of {', '.join(ALIGNMENTS)}, not {shown(name)}")


def check_image_size(path: Path, size: Any) -> None:
    if not is_int(size) or size not in IMAGE_SIZES:
        raise InfoscrubError(f"{path}: image_size must be an integer from {IMAGE_SIZES.start} to "
                             f"{IMAGE_SIZES.stop - 1}, not {shown(size)}")


def check_step(path: Path, step: Any) -> None:
    if not is_int(step) or step < 0:
        raise InfoscrubError(f"{path}: step must be a non-negative integer, not {shown(step)}")


def check_info(path: Path, info: dict[str, Any]) -> None:
    """What checkpoints and exported weights say about themselves; config sections are
    parsed by the loader that builds a network from them."""
    check_kind(path, info.get("kind"))
    if not isinstance(info.get("config"), dict):
        raise InfoscrubError(f"{path}: config must be a table of settings, not {shown(info.get('config'))}")
    check_attribute_names(path, info.get("attributes"))
    check_alignment_name(path, info.get("alignment"))
    check_image_size(path, info.get("image_size"))
    check_step(path, info.get("step"))


def check_state_tables(path: Path, state: dict[str, Any]) -> None:
    """``models`` maps each network to its tensors; optimizers, RNG and extras are tables."""
    models = state.get("models")
    if not (isinstance(models, dict) and all(
            isinstance(net, dict) and all(isinstance(t, torch.Tensor) for t in net.values())
            for net in models.values())):
        raise InfoscrubError(f"{path}: models must map each network to its tensors")
    for key in ("optimizers", "rng", "extra"):
        if not isinstance(state.get(key, {}), dict):
            raise InfoscrubError(f"{path}: {key} must be a table, not {shown(state[key])}")


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
