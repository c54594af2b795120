"""Inference API: the editor (Stage I generator + optional Stage II mixer) and the attacker.

Both load from a training checkpoint (``.pt``, read with ``weights_only=True``) or from an
exported fp16 safetensors file, the format of the weights bundled in ``infoscrub/assets``.
``Editor.load()`` / ``Attacker.load()`` with no path use the bundled weights.

Every file is validated completely before use: its self-description, its config sections,
that its networks are there, finite and of the shapes their config builds. Anything wrong is
one ``InfoscrubError`` line, never a traceback and never a silently broken model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infoscrub.attributes import resolve_attributes
from infoscrub.config import config_from_dict
from infoscrub.edit_request import MODES, check_edit_request  # noqa: F401  (MODES: public API)
from infoscrub.editing import require_mixer
from infoscrub.errors import InfoscrubError
from infoscrub.models import GeneratorConfig, MixerConfig, ObfuscationMixer, UNetEditor, mix
from infoscrub.models.adversary import AdversaryConfig, build_adversary
from infoscrub.storage.checkpoints import is_int, load_module_state, shown
from infoscrub.storage.weights import NETWORKS, checkpoint_networks, read_networks, save_weights

# Bound on every integer of a network config: a crafted depth or block count must not make
# even the shape check (on the meta device) build millions of layers.
MAX_SETTING = 4096


def bundled_weights(name: str) -> Path:
    """Path of a bundled weights file (``editor`` or ``attacker``); error if not shipped."""
    path = Path(str(resources.files("infoscrub") / "assets" / "weights" / f"{name}.safetensors"))
    if not path.is_file():
        raise InfoscrubError(f"this installation has no bundled {name} weights; pass a checkpoint "
                             "(train one with 'infoscrub train ...')")
    return path


def network_config(path: Path, config: dict[str, Any], section: str, cls: type) -> Any:
    """A config section a network is built from: present, strictly parsed (config_from_dict
    refuses unknown keys and wrong types), every integer in 0..MAX_SETTING."""
    table = config.get(section)
    if not isinstance(table, dict) or not all(isinstance(key, str) for key in table):
        raise InfoscrubError(f"{path}: config has no {section} section")
    try:
        cfg = config_from_dict(cls, table, section)
    except InfoscrubError as exc:
        raise InfoscrubError(f"{path}: {exc}") from None
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if is_int(value) and not 0 <= value <= MAX_SETTING:
            raise InfoscrubError(f"{path}: config {section}.{field.name} must be from 0 to "
                                 f"{MAX_SETTING}, not {value}")
    return cfg


def build_network(path: Path, what: str, make: Callable[[], nn.Module],
                  state: dict[str, torch.Tensor]) -> nn.Module:
    """``make()`` once on the meta device (no memory) to check that the config builds a
    network with exactly the file's tensor shapes, then for real with the file's weights."""
    try:
        with torch.device("meta"):
            skeleton = make()
    except (ValueError, RuntimeError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InfoscrubError(f"{path}: its config does not build the {what} network ({detail})") from None
    needed = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    for key in sorted(needed.keys() | found.keys()):
        if needed.get(key) != found.get(key):
            raise InfoscrubError(f"{path} does not fit the {what} network: tensor {shown(key)} is "
                                 f"{found.get(key, 'missing')}, the network needs {needed.get(key, 'none')}")
    module = make()
    load_module_state(module, state, what)
    return module


def export_weights(path: str | Path, out: str | Path, half: bool = True) -> Path:
    """Write the inference networks of a checkpoint as one (fp16) safetensors file."""
    info, nets = read_networks(path, ("stage1", "stage2", "adversary"))
    return save_weights(out, {net: nets[net] for net in NETWORKS[info["kind"]]}, info, half)


def attribute_mask(model_attributes: list[str], chosen: list[str], batch: int,
                   device: torch.device) -> torch.Tensor:
    """(batch, n) bool mask of the chosen attributes, in the model's attribute order."""
    picked = resolve_attributes(chosen, model_attributes)
    row = torch.tensor([a in picked for a in model_attributes], dtype=torch.bool, device=device)
    return row.expand(batch, -1)


def check_size_fits_depth(path: Path, image_size: int, depth: int) -> None:
    """The U-Net halves the image ``depth`` times and joins skips at every level."""
    if image_size % 2**depth:
        raise InfoscrubError(f"{path}: image_size {image_size} does not fit a generator of depth "
                             f"{depth} (it must be divisible by {2**depth})")


class Editor:
    """Stage I generator (+ Stage II mixer) for faces aligned to ``alignment`` at ``image_size``
    (a ``FaceEditor``, ``infoscrub.editing``)."""

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
        path = Path(path or bundled_weights("editor"))
        return cls.from_networks(path, *read_networks(path, ("stage1", "stage2")), device)

    @classmethod
    def from_checkpoint(cls, path: Path, state: dict[str, Any], device: str | torch.device = "cpu") -> "Editor":
        """The editor of a stage1/stage2 checkpoint already read by ``load_checkpoint``."""
        return cls.from_networks(path, *checkpoint_networks(path, state), device)

    @classmethod
    def from_networks(cls, path: Path, info: dict[str, Any], nets: dict[str, dict[str, torch.Tensor]],
                      device: str | torch.device = "cpu") -> "Editor":
        """Build from validated networks and info (``read_networks``); ``path`` names errors."""
        n = len(info["attributes"])
        gen_cfg = network_config(path, info["config"], "generator", GeneratorConfig)
        check_size_fits_depth(path, info["image_size"], gen_cfg.depth)
        generator = build_network(path, "generator", lambda: UNetEditor(n, gen_cfg), nets["generator"])
        mixer = None
        if "mixer" in nets:
            mix_cfg = network_config(path, info["config"], "mixer", MixerConfig)
            mixer = build_network(path, "mixer", lambda: ObfuscationMixer(n, mix_cfg), nets["mixer"])
        return cls(generator, info["attributes"], info["alignment"], info["image_size"], mixer, device, info)

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
             strength: float = 1.0, labels: torch.Tensor | None = None,
             alpha: torch.Tensor | None = None, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Invert or obfuscate ``attributes`` of faces in [-1, 1] (B, 3, S, S).

        Without ``labels`` the current values come from the code itself (the label-free path
        a photo takes, SPEC §2): a'_i = 1 - [a_i > 0.5]. With ``labels`` (B, n) in the order
        of ``self.attributes`` (the labelled evaluation path, or one person's values across
        an album): a'_i = 1 - c_i. ``alpha`` (B, 1, S, S): the obfuscation's mixing map to
        use instead of the mixer's (an album gives all of a person's faces the same one).
        ``strength`` in [0, 1] is the fraction of the change applied (1 = the model's output).
        ``extra`` (B, n) bool: attributes edited on top of ``attributes``, face by face (a
        randomised defence flips a random subset of the others, ``evaluation.adaptive``).
        """
        strength = check_edit_request(mode, strength)
        if mode == "obfuscate":
            require_mixer(self)
        x = faces.to(self.device, torch.float32)
        code, code_edit, out = self._invert(x, attributes, labels, extra)
        if mode == "obfuscate":
            if alpha is None:
                alpha = self.mixer(x, out, code, code_edit)
            out = mix(x, out, alpha.to(self.device, torch.float32))
        out = x + strength * (out - x)
        if not bool(torch.isfinite(out).all()):  # the last guard: never paste NaN over a face
            raise InfoscrubError("the model produced non-finite pixels; its weights are broken")
        return out

    @torch.no_grad()
    def mixing(self, faces: torch.Tensor, attributes: list[str], labels: torch.Tensor | None = None,
               extra: torch.Tensor | None = None) -> torch.Tensor:
        """The mixer's alpha (B, 1, S, S) for obfuscating ``attributes`` (see ``edit``)."""
        require_mixer(self)
        x = faces.to(self.device, torch.float32)
        code, code_edit, out = self._invert(x, attributes, labels, extra)
        return self.mixer(x, out, code, code_edit)

    def _invert(self, x: torch.Tensor, attributes: list[str], labels: torch.Tensor | None,
                extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(code, edited code, inverted faces) of faces already on the device."""
        mask = attribute_mask(self.attributes, attributes, x.shape[0], self.device)
        if extra is not None:
            if tuple(extra.shape) != tuple(mask.shape):
                raise InfoscrubError(f"extra must have shape {tuple(mask.shape)}, got {tuple(extra.shape)}")
            mask = mask | extra.to(self.device, torch.bool)
        feats, code = self.generator.encode(x)
        current = (code > 0.5).float() if labels is None else labels.to(self.device, torch.float32)
        code_edit = torch.where(mask, 1.0 - current, code)
        return code, code_edit, self.generator.decode(x, feats, code_edit)

    @torch.no_grad()
    def edit_paths(self, x: torch.Tensor, attribute: str, labels: torch.Tensor | None,
                   paths: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor | None]]:
        """The evaluation's edits of one batch (``FaceEditor.edit_paths``), sharing one encoder
        pass: the label-free inversion is decoded once, the obfuscation reuses it (the mixer
        only blends input and inversion), and the labelled inversion is decoded only for the
        rows whose code reading differs from the label (elsewhere it is the same image)."""
        extras: dict[str, torch.Tensor | None] = {"alpha": None, "labelled_rows": None, "code_agrees": None}
        out: dict[str, torch.Tensor] = {}
        gen = self.generator
        mask = self.mask_for([attribute]).expand(x.shape[0], -1).bool()
        feats, code = gen.encode(x)
        read = (code > 0.5).float()
        code_free = torch.where(mask, 1.0 - read, code)
        inverted = gen.decode(x, feats, code_free)
        if "label_free" in paths:
            out["label_free"] = inverted
        if labels is not None:
            labels = labels.to(x.device, torch.float32)
            t = self.attributes.index(attribute)
            agrees = read[:, t] == labels[:, t]
            extras["code_agrees"] = agrees
            if "labelled" in paths and "label_free" in paths:  # decode only where they differ
                rows = torch.nonzero(~agrees).flatten()
                code_lab = torch.where(mask, 1.0 - labels, code)[rows]
                extras["labelled_rows"] = rows
                out["labelled"] = (gen.decode(x[rows], [None if f is None else f[rows] for f in feats], code_lab)
                                   if len(rows) else x[:0])
            elif "labelled" in paths:
                out["labelled"] = gen.decode(x, feats, torch.where(mask, 1.0 - labels, code))
        if "obfuscated" in paths and self.mixer is not None:
            alpha = self.mixer(x, inverted, code, code_free)
            out["obfuscated"] = mix(x, inverted, alpha)
            extras["alpha"] = alpha
        return out, extras


class Attacker:
    """The attribute classifier behind the privacy report (an unseen ResNet-18 adversary)."""

    def __init__(self, model: nn.Module, attributes: list[str], image_size: int = 128,
                 device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.attributes, self.image_size = list(attributes), int(image_size)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu") -> "Attacker":
        path = Path(path or bundled_weights("attacker"))
        info, nets = read_networks(path, ("adversary",))
        model_cfg = network_config(path, info["config"], "model", AdversaryConfig)
        n = len(info["attributes"])
        model = build_network(path, "adversary", lambda: build_adversary(n, model_cfg), nets["adversary"])
        return cls(model, info["attributes"], info["image_size"], device)

    @classmethod
    def untrained(cls, attributes: list[str], image_size: int = 128, seed: int = 0) -> "Attacker":
        torch.manual_seed(seed)
        attributes = resolve_attributes(attributes)
        return cls(build_adversary(len(attributes), AdversaryConfig(width=8)), attributes, image_size)

    @torch.no_grad()
    def predict(self, faces: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(faces.to(self.device, torch.float32)).float())
