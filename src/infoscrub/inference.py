"""Inference API: the editor (Stage I generator + optional Stage II mixer) and the attacker.

Both load from a training checkpoint (``.pt``, read with ``weights_only=True``) or from an
exported fp16 safetensors file, the format of the weights bundled in ``infoscrub/assets``.
``Editor.load()`` / ``Attacker.load()`` with no path use the bundled weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from infoscrub.attributes import resolve_attributes
from infoscrub.config import config_from_dict
from infoscrub.edit_request import MODES, check_edit_request  # noqa: F401  (MODES: public API)
from infoscrub.errors import InfoscrubError
from infoscrub.models import GeneratorConfig, MixerConfig, ObfuscationMixer, UNetEditor, mix
from infoscrub.models.adversary import AdversaryConfig, build_adversary
from infoscrub.training.checkpoint import (
    atomic_safetensors_save,
    checkpoint_info,
    load_checkpoint,
    load_module_state,
)

WEIGHTS_FORMAT = "infoscrub-weights"


def bundled_weights(name: str) -> Path:
    """Path of a bundled weights file (``editor`` or ``attacker``); error if not shipped."""
    path = Path(str(resources.files("infoscrub") / "assets" / "weights" / f"{name}.safetensors"))
    if not path.is_file():
        raise InfoscrubError(f"this installation has no bundled {name} weights; pass a checkpoint "
                             "(train one with 'infoscrub train ...')")
    return path


def _read_weights(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """(metadata, {network: state_dict}) of an exported safetensors file."""
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
    info = json.loads(meta["info"])
    return info, nets


def read_networks(path: str | Path, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Uniform view of a checkpoint or an export: info (kind, config, attributes, ...) + nets."""
    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        info, nets = _read_weights(path)
        if info.get("kind") not in kinds:
            raise InfoscrubError(f"{path} holds {info.get('kind')} weights; expected {' or '.join(kinds)}")
        return info, nets
    state = load_checkpoint(path, kinds)
    return checkpoint_info(state), shipped_networks(state["models"])


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
                value = value.half()
            tensors[f"{net}.{key}"] = value.contiguous()
    out = Path(out)
    atomic_safetensors_save(tensors, {"format": WEIGHTS_FORMAT, "info": json.dumps(info)}, out)
    return out


def export_weights(path: str | Path, out: str | Path, half: bool = True) -> Path:
    """Write the inference networks of a checkpoint as one (fp16) safetensors file."""
    info, nets = read_networks(path, ("stage1", "stage2", "adversary"))
    keep = {"stage1": ("generator",), "stage2": ("generator", "mixer"), "adversary": ("adversary",)}[info["kind"]]
    return save_weights(out, {net: nets[net] for net in keep}, info, half)


def attribute_mask(model_attributes: list[str], chosen: list[str], batch: int,
                   device: torch.device) -> torch.Tensor:
    """(batch, n) bool mask of the chosen attributes, in the model's attribute order."""
    picked = resolve_attributes(chosen, model_attributes)
    row = torch.tensor([a in picked for a in model_attributes], dtype=torch.bool, device=device)
    return row.expand(batch, -1)


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """Binary entropy in bits (1 at p = 0.5, 0 at p in {0, 1})."""
    p = p.double().clamp(1e-12, 1 - 1e-12)
    h = -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))
    return torch.where((p <= 1e-12) | (p >= 1 - 1e-12), torch.zeros_like(h), h).float()


class Editor:
    """Stage I generator (+ Stage II mixer) for faces aligned to ``alignment`` at ``image_size``."""

    def __init__(self, generator: UNetEditor, attributes: list[str], alignment: str, image_size: int,
                 mixer: ObfuscationMixer | None = None, device: str | torch.device = "cpu",
                 info: dict[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.generator = generator.to(self.device).eval()
        self.mixer = mixer.to(self.device).eval() if mixer is not None else None
        self.attributes, self.alignment, self.image_size = list(attributes), alignment, int(image_size)
        self.info = info or {}

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu") -> "Editor":
        info, nets = read_networks(path or bundled_weights("editor"), ("stage1", "stage2"))
        config = info["config"]
        attributes = info["attributes"]
        gen_cfg = config_from_dict(GeneratorConfig, config["generator"], "generator")
        generator = UNetEditor(len(attributes), gen_cfg)
        load_module_state(generator, nets["generator"], "generator")
        mixer = None
        if "mixer" in nets:
            mixer = ObfuscationMixer(len(attributes), config_from_dict(MixerConfig, config["mixer"], "mixer"))
            load_module_state(mixer, nets["mixer"], "mixer")
        return cls(generator, attributes, info["alignment"], info["image_size"], mixer, device, info)

    @classmethod
    def untrained(cls, attributes: list[str], alignment: str = "celebahq", image_size: int = 128,
                  width: int = 16, seed: int = 0) -> "Editor":
        """A small random model (with a mixer), for tests and development."""
        torch.manual_seed(seed)
        attributes = resolve_attributes(attributes)
        generator = UNetEditor(len(attributes), GeneratorConfig(width=width, max_channels=width * 4))
        mixer = ObfuscationMixer(len(attributes), MixerConfig(width=width, blocks=2))
        info = {"kind": "untrained", "config": {"generator": asdict(generator.cfg), "mixer": asdict(mixer.cfg)}}
        return cls(generator, attributes, alignment, image_size, mixer, "cpu", info)

    @property
    def can_obfuscate(self) -> bool:
        return self.mixer is not None

    def mask_for(self, attributes: list[str]) -> torch.Tensor:
        """(n,) float 0/1 mask of ``attributes`` in the model's attribute order."""
        return attribute_mask(self.attributes, attributes, 1, self.device)[0].float()

    @torch.no_grad()
    def codes(self, faces: torch.Tensor) -> torch.Tensor:
        """The sensitive code a: a_i > 0.5 reads as 'attribute i present'."""
        return self.generator.encode(faces.to(self.device))[1]

    @torch.no_grad()
    def edit(self, faces: torch.Tensor, attributes: list[str], mode: str = "invert",
             strength: float = 1.0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Invert or obfuscate ``attributes`` of faces in [-1, 1] (B, 3, S, S).

        Without ``labels`` the current values come from the code itself (the label-free path
        a photo takes, SPEC §2): a'_i = 1 - [a_i > 0.5]. With ``labels`` (B, n) in the order
        of ``self.attributes`` (the labelled evaluation path): a'_i = 1 - c_i.
        ``strength`` in [0, 1] is the fraction of the change applied (1 = the model's output).
        """
        strength = check_edit_request(mode, strength)
        if mode == "obfuscate" and self.mixer is None:
            raise InfoscrubError("these weights have no Stage II mixer; obfuscation needs a stage2 checkpoint")
        x = faces.to(self.device, torch.float32)
        mask = attribute_mask(self.attributes, attributes, x.shape[0], self.device)
        feats, code = self.generator.encode(x)
        current = (code > 0.5).float() if labels is None else labels.to(self.device, torch.float32)
        code_edit = torch.where(mask, 1.0 - current, code)
        out = self.generator.decode(x, feats, code_edit)
        if mode == "obfuscate":
            out = mix(x, out, self.mixer(x, out, code, code_edit))
        return x + strength * (out - x)


class Attacker:
    """The attribute classifier behind the privacy report (an unseen ResNet-18 adversary)."""

    def __init__(self, model: nn.Module, attributes: list[str], image_size: int = 128,
                 device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.attributes, self.image_size = list(attributes), int(image_size)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu") -> "Attacker":
        info, nets = read_networks(path or bundled_weights("attacker"), ("adversary",))
        model_cfg = config_from_dict(AdversaryConfig, info["config"]["model"], "model")
        model = build_adversary(len(info["attributes"]), model_cfg)
        load_module_state(model, nets["adversary"], "adversary")
        return cls(model, info["attributes"], info["image_size"], device)

    @classmethod
    def untrained(cls, attributes: list[str], image_size: int = 128, seed: int = 0) -> "Attacker":
        torch.manual_seed(seed)
        attributes = resolve_attributes(attributes)
        return cls(build_adversary(len(attributes), AdversaryConfig(width=8)), attributes, image_size)

    @torch.no_grad()
    def predict(self, faces: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(faces.to(self.device, torch.float32)).float())


# Checkpoint kinds of the baselines, each with an editor class offering the same interface
# as ``Editor`` (attributes, alignment, image_size, can_obfuscate, edit(...)).
BASELINE_EDITORS = {
    "stargan": ("infoscrub.baselines.stargan", "StarGANEditor"),
    "icgan": ("infoscrub.baselines.icgan", "IcGANEditor"),
}


def load_editor(path: str | Path | None = None, device: str | torch.device = "cpu"):
    """Any editing model: InfoScrub stage1/stage2 weights or a baseline checkpoint."""
    if path is not None and Path(path).suffix == ".pt":
        kind = load_checkpoint(path)["kind"]
        if kind in BASELINE_EDITORS:
            import importlib

            module, name = BASELINE_EDITORS[kind]
            return getattr(importlib.import_module(module), name).load(path, device)
    return Editor.load(path, device)
