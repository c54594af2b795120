"""The compact state a training round starts from and leaves behind.

Small enough to travel to a lent GPU and back (every file under 16 MiB, the whole state
under 40 MB), and enough to continue training:

- ``editor.safetensors``: G_ema (+ the Stage II mixer), fp16, the inference format that
  ``Scrubber.load()`` reads; training continues from G_ema (G and G_ema restart equal).
- ``attacker.safetensors``: the small attacker behind the privacy report, trained once.
- ``trainer.safetensors``: the discriminator in fp16 plus what continuing needs (the Stage I
  config, attribute names, alignment, image size, images seen, steps, rounds, seed).
  Optimiser moments are not kept: a restart builds fresh ones, with a learning-rate
  warm-up and a few discriminator-only steps.

Beside them, not shipped: ``heldout_adversary.safetensors`` (the evaluation's unseen
ResNet-18, trained once and reused so rounds are judged by the same adversary) and
``metrics.json`` (the state's last round measurements, what the next round must beat).

In the repository the shipped files live in ``src/infoscrub/assets/weights/`` and the
rest in ``state/``; a round's output folder holds them side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from infoscrub.errors import InfoscrubError
from infoscrub.storage.atomic import atomic_safetensors_save

EDITOR = "editor.safetensors"
ATTACKER = "attacker.safetensors"
TRAINER = "trainer.safetensors"
HELDOUT = "heldout_adversary.safetensors"
METRICS = "metrics.json"

TRAINER_FORMAT = "infoscrub-trainer-state"
TRAINER_VERSION = 1
MAX_FILE_BYTES = 16 * 2**20  # what one file brought back from a device call may weigh
MAX_STATE_BYTES = 40_000_000  # editor + attacker + trainer together
MAX_OUT_FILES = 8  # files one device call brings back
TRAINER_KEYS = {"config": dict, "attributes": list, "alignment": str, "image_size": int,
                "images_seen": int, "steps": int, "stage2_images_seen": int, "rounds": int, "seed": int}


@dataclass(frozen=True)
class StatePaths:
    """Where the files of one state are."""

    editor: Path
    attacker: Path
    trainer: Path
    heldout: Path
    metrics: Path

    @classmethod
    def folder(cls, root: str | Path) -> "StatePaths":
        """All files side by side (a round's output folder)."""
        root = Path(root)
        return cls(root / EDITOR, root / ATTACKER, root / TRAINER, root / HELDOUT, root / METRICS)

    @classmethod
    def repository(cls, state_dir: str | Path = "state", weights_dir: str | Path | None = None) -> "StatePaths":
        """The repository's homes: shipped weights in the package, the rest in ``state/``."""
        weights = Path(weights_dir) if weights_dir is not None else package_weights_dir()
        state = Path(state_dir)
        return cls(weights / EDITOR, weights / ATTACKER, state / TRAINER, state / HELDOUT, state / METRICS)

    def shipped(self) -> list[Path]:
        return [self.editor, self.attacker, self.trainer]

    def has_model(self) -> bool:
        return self.editor.is_file() and self.trainer.is_file()

    def read_metrics(self) -> dict[str, Any] | None:
        if not self.metrics.is_file():
            return None
        try:
            return json.loads(self.metrics.read_text())
        except json.JSONDecodeError as exc:
            raise InfoscrubError(f"{self.metrics} is not valid JSON ({exc})") from None


def package_weights_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "assets" / "weights"))


def write_trainer_state(path: str | Path, discriminator: dict[str, torch.Tensor], info: dict[str, Any]) -> Path:
    """The discriminator in fp16 and the training info (see ``TRAINER_KEYS``), atomically."""
    missing = [k for k in TRAINER_KEYS if k not in info]
    if missing:
        raise ValueError(f"trainer state info lacks {', '.join(missing)}")
    tensors = {}
    for key, value in discriminator.items():
        value = value.detach().cpu()
        tensors[f"discriminator.{key}"] = (value.half() if value.is_floating_point() else value).contiguous()
    meta = {"format": TRAINER_FORMAT, "version": str(TRAINER_VERSION), "info": json.dumps(info)}
    atomic_safetensors_save(tensors, meta, path)
    return Path(path)


def read_trainer_state(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(info, discriminator state dict in float32); refuses anything else in one line."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"trainer state {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("format") != TRAINER_FORMAT:
                raise InfoscrubError(f"{path} is not an infoscrub trainer state")
            if meta.get("version") != str(TRAINER_VERSION):
                raise InfoscrubError(f"{path} has trainer-state version {meta.get('version')}; "
                                     f"this infoscrub reads {TRAINER_VERSION}")
            state = {}
            for key in handle.keys():
                net, _, param = key.partition(".")
                if net != "discriminator":
                    raise InfoscrubError(f"{path} holds an unexpected tensor {key!r}")
                state[param] = handle.get_tensor(key)
    except InfoscrubError:
        raise
    except Exception as exc:  # safetensors' own errors: header, truncation
        raise InfoscrubError(f"{path} is not a readable trainer state ({str(exc)[:200]})") from None
    try:
        info = json.loads(meta.get("info", ""))
    except json.JSONDecodeError:
        raise InfoscrubError(f"{path} has a damaged header (info is not JSON)") from None
    if not isinstance(info, dict):
        raise InfoscrubError(f"{path} has a damaged header (info is not an object)")
    for key, kind in TRAINER_KEYS.items():
        if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool):
            raise InfoscrubError(f"{path} has a damaged header ({key} missing or not a {kind.__name__})")
    if info["images_seen"] < 0 or info["steps"] < 0 or info["rounds"] < 0:
        raise InfoscrubError(f"{path} has a damaged header (negative counts)")
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise InfoscrubError(f"{path} holds non-finite values in discriminator.{key}")
    return info, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def file_problems(paths: list[Path]) -> list[str]:
    """Why files could not all come back from a device call (empty when they can)."""
    files = [p for p in paths if p.is_file()]
    problems = [f"{p.name} is {p.stat().st_size / 2**20:.1f} MiB (a device call brings back < 16 MiB per file)"
                for p in files if p.stat().st_size >= MAX_FILE_BYTES]
    if len(files) > MAX_OUT_FILES:
        problems.append(f"{len(files)} files (a device call brings back at most {MAX_OUT_FILES})")
    problems += [f"{p.name} is a folder (a round's output holds files only)" for p in paths if p.is_dir()]
    return problems


def state_problems(paths: list[Path]) -> list[str]:
    """Why the state files exceed the state's size budget (empty when they do not)."""
    total = sum(p.stat().st_size for p in paths if p.is_file())
    if total > MAX_STATE_BYTES:
        return [f"the state is {total / 1e6:.1f} MB in all (at most {MAX_STATE_BYTES / 1e6:.0f} MB)"]
    return []
