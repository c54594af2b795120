"""Exported weights: one safetensors file of fp16 networks with a JSON self-description.

The format of the bundled weights (``infoscrub/assets/weights``) and of ``infoscrub
export``. The header's ``format`` tag is ``infoscrub-weights``; its ``info`` holds the kind,
config, attribute names, alignment, image size and step. Reading validates the header,
that the kind's networks are all there and that every value is finite and in a range a
trained network can have, so a damaged or crafted file is refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from infoscrub.errors import InfoscrubError
from infoscrub.kinds import KINDS
from infoscrub.storage.atomic import atomic_safetensors_save
from infoscrub.storage.checkpoints import check_info, checkpoint_info, load_checkpoint

WEIGHTS_FORMAT = "infoscrub-weights"
# The networks each kind of file must hold (exports keep exactly these).
NETWORKS = {name: kind.networks for name, kind in KINDS.items()}
FP16_MAX = 65504.0


def _read_weights(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """(info, {network: state_dict}) of an exported safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("format") != WEIGHTS_FORMAT:
                raise InfoscrubError(f"{path} is not an infoscrub weights file")
            nets: dict[str, dict[str, torch.Tensor]] = {}
            for key in handle.keys():
                net, _, param = key.partition(".")
                nets.setdefault(net, {})[param] = handle.get_tensor(key).float()
    except InfoscrubError:
        raise
    except Exception as exc:  # safetensors' own errors: header, truncation
        raise InfoscrubError(f"{path} is not a readable weights file ({str(exc)[:200]})") from None
    return parse_info(path, meta.get("info")), nets


def parse_info(path: Path, text: str | None) -> dict[str, Any]:
    """The JSON object an export's header describes it with."""
    if text is None:
        raise InfoscrubError(f"{path} has a damaged header (no info)")
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested crafted JSON
        raise InfoscrubError(f"{path} has a damaged header (info is not JSON)") from None
    if not isinstance(info, dict):
        raise InfoscrubError(f"{path} has a damaged header (info is not a JSON object)")
    return info


def read_networks(path: str | Path, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Uniform view of a checkpoint or an export: info (kind, config, attributes, ...) + nets,
    validated: the info's fields, and the kind's networks present and finite."""
    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        info, nets = _read_weights(path)
        check_info(path, info)
        if info["kind"] not in kinds:
            raise InfoscrubError(f"{path} holds {info['kind']} weights; expected {' or '.join(kinds)}")
        check_networks(path, info["kind"], nets)
        return info, nets
    return checkpoint_networks(path, load_checkpoint(path, kinds))


def checkpoint_networks(path: Path, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """``read_networks``' view of a checkpoint already read (``load_checkpoint``)."""
    info, nets = checkpoint_info(state), shipped_networks(state["models"])
    check_networks(path, info["kind"], nets)
    return info, nets


def check_networks(path: Path, kind: str, nets: dict[str, dict[str, torch.Tensor]]) -> None:
    """The kind's networks are all there, and no tensor holds NaN or inf (such weights paste
    a black square over the face and report success)."""
    missing = [net for net in NETWORKS[kind] if net not in nets]
    if missing:
        raise InfoscrubError(f"{path} has no {missing[0]} network (a {kind} file holds "
                             f"{', '.join(NETWORKS[kind])})")
    for net, state in nets.items():
        for key, tensor in state.items():
            if not torch.isfinite(tensor).all():
                raise InfoscrubError(f"{path}: tensor {net}.{key} holds NaN or infinite values; "
                                     "these weights are broken (a diverged run?)")
            # No trained network holds values this large (they would not survive fp16), and
            # finite but huge weights overflow to NaN pixels in the first convolutions.
            if tensor.is_floating_point() and tensor.numel() and float(tensor.abs().max()) > FP16_MAX:
                raise InfoscrubError(f"{path}: tensor {net}.{key} holds values beyond +-{FP16_MAX:g}; "
                                     "these are not trained weights")


def shipped_networks(models: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
    """The networks inference uses: a Stage I checkpoint's moving average G_ema stands in
    for its raw generator (G_ema is what is sampled, evaluated, exported and shipped)."""
    models = dict(models)
    if "generator_ema" in models:
        models["generator"] = models.pop("generator_ema")
    return models


def save_weights(out: str | Path, networks: dict[str, dict[str, torch.Tensor]], info: dict[str, Any],
                 half: bool = True) -> Path:
    """Write networks' state dicts as one safetensors file (fp16 unless ``half`` is False)
    with ``info`` (kind, config, attributes, alignment, image size, step) in its header."""
    tensors = {}
    for net, state in networks.items():
        for key, value in state.items():
            value = value.detach().cpu()
            if value.is_floating_point() and half:
                if value.numel() and float(value.abs().max()) > FP16_MAX:  # would load back as inf
                    raise InfoscrubError(f"{net}.{key} holds values beyond the fp16 range; "
                                         "export it in fp32 (--fp32)")
                value = value.half()
            tensors[f"{net}.{key}"] = value.contiguous()
    out = Path(out)
    atomic_safetensors_save(tensors, {"format": WEIGHTS_FORMAT, "info": json.dumps(info)}, out)
    return out


