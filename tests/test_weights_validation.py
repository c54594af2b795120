"""Every weights file is validated completely before use: a damaged or crafted file is one
``InfoscrubError`` line naming the file (the CLI's ``infoscrub: error: ...``, exit 2), never a
traceback, never a silently broken model."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from infoscrub import cli
from infoscrub.errors import InfoscrubError
from infoscrub.editors import load_editor
from infoscrub.inference import Attacker, Editor
from infoscrub.models import GeneratorConfig, MixerConfig, ObfuscationMixer, UNetEditor
from infoscrub.models.adversary import AdversaryConfig, build_adversary
from infoscrub.storage.checkpoints import (
    load_checkpoint,
    load_module_state,
    save_checkpoint,
)

ATTRS = ["Male", "Smiling", "Young"]
GEN = GeneratorConfig(width=8, max_channels=16, identity_init=False)
MIX = MixerConfig(width=8, blocks=1)
INFO = {"kind": "stage2", "config": {"generator": asdict(GEN), "mixer": asdict(MIX)},
        "attributes": ATTRS, "alignment": "celeba", "image_size": 32, "step": 7}


def networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"generator": UNetEditor(3, GEN), "mixer": ObfuscationMixer(3, MIX)}


def flat_tensors() -> dict[str, torch.Tensor]:
    return {f"{net}.{key}": value.contiguous()
            for net, module in networks().items() for key, value in module.state_dict().items()}


def export(path: Path, info=INFO, tensors=None, metadata=None) -> Path:
    """A stage2 export as ``save_weights`` writes it, with any part replaced."""
    if metadata is None:
        metadata = {"format": "infoscrub-weights", "info": json.dumps(info)}
    save_file(flat_tensors() if tensors is None else tensors, str(path), metadata=metadata)
    return path


def checkpoint(path: Path, **changes) -> Path:
    """A stage2 checkpoint as training writes it, with ``changes`` applied (None: key removed)."""
    save_checkpoint(path, kind="stage2", config=INFO["config"], attributes=ATTRS, alignment="celeba",
                    image_size=32, step=7, models=networks())
    if changes:
        state = torch.load(path, weights_only=True)
        state.update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del state[key]
        torch.save(state, path)
    return path


def refused(load, path: Path, *words: str) -> str:
    """``load(path)`` fails with one line that names the file and holds ``words``."""
    with pytest.raises(InfoscrubError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def test_the_valid_files_these_tests_corrupt_load(tmp_path):
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    from_export = Editor.load(export(tmp_path / "w.safetensors"))
    from_checkpoint = Editor.load(checkpoint(tmp_path / "c.pt"))
    assert from_export.can_obfuscate and from_export.image_size == 32
    assert torch.equal(from_export.edit(x, ["Male"], "obfuscate"), from_checkpoint.edit(x, ["Male"], "obfuscate"))


# ------------------------------------------------------------------ 1. damaged files

@pytest.mark.parametrize("metadata, words", [
    ({"info": json.dumps(INFO)}, ["not an infoscrub weights file"]),
    ({"format": "infoscrub-weights"}, ["damaged header", "no info"]),
    ({"format": "infoscrub-weights", "info": "{\"kind\": "}, ["info is not JSON"]),
    ({"format": "infoscrub-weights", "info": "[" * 100_000}, ["info is not JSON"]),
    ({"format": "infoscrub-weights", "info": "[1, 2]"}, ["not a JSON object"]),
    ({"format": "infoscrub-weights", "info": "\"stage2\""}, ["not a JSON object"]),
], ids=["no-format", "no-info", "bad-json", "nested-json", "info-list", "info-string"])
def test_damaged_headers(tmp_path, metadata, words):
    refused(Editor.load, export(tmp_path / "w.safetensors", metadata=metadata), *words)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


NOT_WEIGHTS = "not a readable weights file"
NOT_PYTORCH = "not a readable infoscrub checkpoint (damaged, truncated or not a PyTorch file"


NOT_WEIGHTS_FILES = [
    ("text.safetensors", lambda p: p.write_text("just some notes\n" * 20), NOT_WEIGHTS),
    ("empty.safetensors", lambda p: p.write_bytes(b""), NOT_WEIGHTS),
    ("cut.safetensors", lambda p: _truncated(export(p)), NOT_WEIGHTS),
    ("text.pt", lambda p: p.write_text("just some notes\n" * 20), NOT_PYTORCH),
    ("dot.pt", lambda p: p.write_bytes(b"."), NOT_PYTORCH),  # torch: "pop from empty list"
    ("empty.pt", lambda p: p.write_bytes(b""), NOT_PYTORCH),
    ("cut.pt", lambda p: _truncated(checkpoint(p)), NOT_PYTORCH),
]


@pytest.mark.parametrize("name, make, words", NOT_WEIGHTS_FILES, ids=[c[0] for c in NOT_WEIGHTS_FILES])
def test_files_that_are_not_weights(tmp_path, name, make, words):
    make(tmp_path / name)
    refused(Editor.load, tmp_path / name, words)
    refused(load_editor, tmp_path / name, words)


@pytest.mark.parametrize("key", ["kind", "config", "attributes", "alignment", "image_size", "step", "models"])
def test_a_checkpoint_without_an_expected_key(tmp_path, key):
    path = checkpoint(tmp_path / "c.pt", **{key: None})
    refused(load_checkpoint, path, key)
    refused(Editor.load, path, key)


def test_a_bare_dict_is_refused(tmp_path):
    torch.save({"format": "infoscrub-checkpoint", "version": 1}, tmp_path / "c.pt")
    refused(load_editor, tmp_path / "c.pt", "kind")
    torch.save({"format": "infoscrub-checkpoint", "version": 1, "kind": "stage2"}, tmp_path / "c.pt")
    refused(load_editor, tmp_path / "c.pt", "config")


def test_models_that_are_not_tables_of_tensors(tmp_path):
    refused(load_checkpoint, checkpoint(tmp_path / "a.pt", models=[1, 2]), "models")
    refused(load_checkpoint, checkpoint(tmp_path / "b.pt", models={"generator": {"w": 3}}), "models")


def test_a_missing_network(tmp_path):
    models = {"generator": networks()["generator"].state_dict()}
    refused(Editor.load, checkpoint(tmp_path / "c.pt", models=models), "no mixer network")
    tensors = {k: v for k, v in flat_tensors().items() if not k.startswith("generator.")}
    refused(Editor.load, export(tmp_path / "w.safetensors", tensors=tensors), "no generator network")


def test_a_baseline_checkpoint_without_its_parts(tmp_path):
    linear = {"weight": torch.zeros(2, 2)}
    path = tmp_path / "s.pt"
    save_checkpoint(path, kind="stargan", config={"model": {}}, attributes=ATTRS, alignment="celebahq",
                    image_size=32, step=1, models={"generator": torch.nn.Linear(2, 2)})
    refused(load_editor, path, "no discriminator network")
    state = torch.load(path, weights_only=True)
    state["config"] = {}
    state["models"]["discriminator"] = linear
    torch.save(state, path)
    refused(load_editor, path, "no model section")
    state["config"] = {"model": {}}
    state["models"]["discriminator"] = {"weight": torch.full((2, 2), float("nan"))}
    torch.save(state, path)
    refused(load_editor, path, "discriminator.weight", "NaN")


# ------------------------------------------------------------------ 2. ranges and consistency

BAD_INFO = [
    ("image_size", 100_000, "image_size"),
    ("image_size", 8, "image_size"),
    ("image_size", 32.0, "image_size"),
    ("image_size", "32", "image_size"),
    ("image_size", True, "image_size"),
    ("image_size", 40, "does not fit a generator of depth 4"),
    ("attributes", [], "attributes"),
    ("attributes", "Male", "attributes"),
    ("attributes", ["Male", "Male", "Young"], "attributes"),
    ("attributes", ["Male", "Wizard", "Young"], "attributes"),
    ("attributes", ["Male", 1, "Young"], "attributes"),
    ("alignment", "ffhq", "alignment"),
    ("alignment", None, "alignment"),
    ("kind", "stage3", "kind"),
    ("kind", ["stage2"], "kind"),
    ("kind", "adversary", "expected stage1 or stage2"),
    ("step", -1, "step"),
    ("step", 1.5, "step"),
    ("config", "big", "config"),
]


@pytest.mark.parametrize("key, value, words", BAD_INFO, ids=[f"{k}={v!r}"[:30] for k, v, _ in BAD_INFO])
def test_info_fields_are_checked(tmp_path, key, value, words):
    refused(Editor.load, export(tmp_path / "w.safetensors", info={**INFO, key: value}), words)


@pytest.mark.parametrize("key, value", [("image_size", 100_000), ("attributes", ["Wizard"]),
                                        ("alignment", "ffhq"), ("step", -3), ("kind", "stage9")])
def test_checkpoint_fields_are_checked(tmp_path, key, value):
    refused(load_checkpoint, checkpoint(tmp_path / "c.pt", **{key: value}), key)


BAD_CONFIG = [
    ({"mixer": asdict(MIX)}, "no generator section"),
    ({"generator": asdict(GEN)}, "no mixer section"),
    ({"generator": 5, "mixer": asdict(MIX)}, "no generator section"),
    ({"generator": {**asdict(GEN), "widht": 8}, "mixer": asdict(MIX)}, "unknown config key generator.widht"),
    ({"generator": {**asdict(GEN), "width": "eight"}, "mixer": asdict(MIX)}, "generator.width"),
    ({"generator": {**asdict(GEN), "width": [8]}, "mixer": asdict(MIX)}, "generator.width"),
    ({"generator": {**asdict(GEN), "width": 8.5}, "mixer": asdict(MIX)}, "generator.width"),
    ({"generator": {**asdict(GEN), "width": 10**9}, "mixer": asdict(MIX)}, "generator.width must be from 0"),
    ({"generator": asdict(GEN), "mixer": {**asdict(MIX), "blocks": 10**7}}, "mixer.blocks must be from 0"),
    ({"generator": {**asdict(GEN), "code_levels": 0}, "mixer": asdict(MIX)}, "does not build the generator"),
    ({"generator": {**asdict(GEN), "width": 16}, "mixer": asdict(MIX)}, "does not fit the generator network"),
]


@pytest.mark.parametrize("config, words", BAD_CONFIG, ids=[w for _, w in BAD_CONFIG])
def test_config_sections_are_parsed_strictly(tmp_path, config, words):
    refused(Editor.load, export(tmp_path / "w.safetensors", info={**INFO, "config": config}), words)


def test_attacker_config_and_shapes(tmp_path):
    model = build_adversary(3, AdversaryConfig(width=8))
    tensors = {f"adversary.{k}": v.contiguous() for k, v in model.state_dict().items()}
    info = {**INFO, "kind": "adversary", "config": {"model": asdict(AdversaryConfig(width=8))}}
    assert Attacker.load(export(tmp_path / "a.safetensors", info, tensors)).attributes == ATTRS
    bad = {**info, "config": {"model": {"arch": "vgg", "width": 8}}}
    refused(Attacker.load, export(tmp_path / "b.safetensors", bad, tensors), "does not build the adversary")
    bad = {**info, "attributes": ["Male", "Young"]}  # a head of 3 for 2 names
    refused(Attacker.load, export(tmp_path / "c.safetensors", bad, tensors), "does not fit the adversary")


# ------------------------------------------------------------------ 3. non-finite weights

@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, value):
    tensors = flat_tensors()
    tensors["mixer.to_alpha.bias"] = torch.full_like(tensors["mixer.to_alpha.bias"], value)
    refused(Editor.load, export(tmp_path / "w.safetensors", tensors=tensors), "mixer.to_alpha.bias", "NaN or infinite")
    models = {net: m.state_dict() for net, m in networks().items()}
    models["generator"]["code_head.weight"][0, 0] = value
    refused(load_editor, checkpoint(tmp_path / "c.pt", models=models), "generator.code_head.weight")


# ------------------------------------------------------------------ 4. pickles

class _Evil:
    def __reduce__(self):
        return (print, ("executed",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_pickle_is_refused_without_torchs_advice_to_unpickle_it(tmp_path, protocol, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"format": "infoscrub-checkpoint", "x": _Evil()}, handle, protocol=protocol)
    message = refused(load_editor, path, "not unpickled")
    for advice in ("weights_only", "trust", "safe_globals", "\x1b"):
        assert advice not in message
    assert "executed" not in capsys.readouterr().out


# ------------------------------------------------------------------ 5. shapes

def test_shape_mismatch_is_one_line_naming_the_network(tmp_path):
    tensors = flat_tensors()
    tensors["generator.code_head.weight"] = tensors["generator.code_head.weight"][:2].contiguous()
    refused(Editor.load, export(tmp_path / "w.safetensors", tensors=tensors),
            "does not fit the generator network", "code_head.weight")
    with pytest.raises(InfoscrubError) as caught:
        load_module_state(UNetEditor(2, GEN), networks()["generator"].state_dict(), "generator")
    assert "\n" not in str(caught.value) and "does not fit the generator network" in str(caught.value)


# ------------------------------------------------------------------ the command line

def _bad_size(p):
    export(p, info={**INFO, "image_size": 100_000})


def _nan(p):
    export(p, tensors={**flat_tensors(), "generator.to_residual.bias": torch.full((3,), float("nan"))})


def _evil(p):
    with open(p, "wb") as handle:
        pickle.dump({"x": _Evil()}, handle, protocol=4)


BAD_FILES = [
    ("big.safetensors", _bad_size, "image_size"),
    ("nan.safetensors", _nan, "NaN"),
    ("noinfo.safetensors", lambda p: export(p, metadata={"format": "infoscrub-weights"}), "no info"),
    ("evil.pt", _evil, "not unpickled"),
    ("bare.pt", lambda p: torch.save({"format": "infoscrub-checkpoint", "version": 1}, p), "kind"),
]


@pytest.mark.parametrize("name, make, words", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_scrub_refuses_bad_weights_in_one_line(tmp_path, capsys, name, make, words):
    photo = tmp_path / "me.png"
    Image.new("RGB", (64, 64), (120, 100, 90)).save(photo)
    make(tmp_path / name)
    out = tmp_path / "out.png"
    code = cli.main(["scrub", str(photo), "--attributes", "Male", "--checkpoint", str(tmp_path / name),
                     "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("infoscrub: error: ") and err.count("\n") == 1, err
    assert words in err and "Traceback" not in err and "weights_only" not in err
    assert not out.exists()


def test_a_real_process_prints_one_line_for_a_pickle(tmp_path):
    """No torch warning (pickle protocol) adds lines to the refusal."""
    photo = tmp_path / "me.png"
    Image.new("RGB", (64, 64)).save(photo)
    _evil(tmp_path / "evil.pt")
    result = subprocess.run(
        [sys.executable, "-m", "infoscrub.cli", "scrub", str(photo), "--attributes", "Male",
         "--checkpoint", str(tmp_path / "evil.pt"), "--output", str(tmp_path / "out.png")],
        check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "not unpickled" in result.stderr and "weights_only" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_export_refuses_values_fp16_cannot_hold(tmp_path):
    from infoscrub.storage.weights import save_weights

    with pytest.raises(InfoscrubError, match="fp16 range"):
        save_weights(tmp_path / "w.safetensors", {"net": {"w": torch.tensor([1e6])}}, {"kind": "stage1"})
    assert not (tmp_path / "w.safetensors").exists()
    save_weights(tmp_path / "w.safetensors", {"net": {"w": torch.tensor([1e6])}}, {"kind": "stage1"}, half=False)


def test_huge_but_finite_weights_are_refused(tmp_path):
    from infoscrub.inference import Editor
    from infoscrub.storage.weights import save_weights

    editor = Editor.untrained(["Male", "Smiling"], image_size=32, width=8)
    info = {"kind": "stage2", "config": dict(editor.info["config"]), "attributes": editor.attributes,
            "alignment": "celebahq", "image_size": 32, "step": 1}
    nets = {"generator": editor.generator.state_dict(), "mixer": editor.mixer.state_dict()}
    first = next(iter(nets["generator"]))
    nets["generator"][first] = nets["generator"][first] * 0 + 1e30
    save_weights(tmp_path / "huge.safetensors", nets, info, half=False)
    with pytest.raises(InfoscrubError, match="not trained weights"):
        Editor.load(tmp_path / "huge.safetensors")


def test_an_editor_never_returns_non_finite_pixels():
    from infoscrub.inference import Editor

    editor = Editor.untrained(["Male"], image_size=32, width=8)
    with torch.no_grad():
        next(editor.generator.parameters()).fill_(float("nan"))
    with pytest.raises(InfoscrubError, match="non-finite pixels"):
        editor.edit(torch.zeros(1, 3, 32, 32), ["Male"])
