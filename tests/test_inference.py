"""Inference API: checkpoints and exported weights give the same editor; clear errors."""

from dataclasses import asdict

import pytest
import torch

from infoscrub.cli import main
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Attacker, Editor, bundled_weights, export_weights
from infoscrub.models import GeneratorConfig, MixerConfig, ObfuscationMixer, UNetEditor
from infoscrub.models.adversary import AdversaryConfig, build_adversary
from infoscrub.storage.checkpoints import save_checkpoint

ATTRS = ["Male", "Smiling", "Young"]
GEN = GeneratorConfig(width=8, max_channels=16, identity_init=False)
MIX = MixerConfig(width=8, blocks=1)


@pytest.fixture
def checkpoints(tmp_path):
    torch.manual_seed(0)
    common = dict(attributes=ATTRS, alignment="celeba", image_size=32, step=7)
    stage1 = tmp_path / "stage1.pt"
    save_checkpoint(stage1, kind="stage1", config={"generator": asdict(GEN)},
                    models={"generator": UNetEditor(3, GEN)}, **common)
    stage2 = tmp_path / "stage2.pt"
    save_checkpoint(stage2, kind="stage2", config={"generator": asdict(GEN), "mixer": asdict(MIX)},
                    models={"generator": UNetEditor(3, GEN), "mixer": ObfuscationMixer(3, MIX)}, **common)
    adversary = tmp_path / "adversary.pt"
    save_checkpoint(adversary, kind="adversary", config={"model": asdict(AdversaryConfig(width=8))},
                    models={"adversary": build_adversary(3, AdversaryConfig(width=8))}, **common)
    return {"stage1": stage1, "stage2": stage2, "adversary": adversary}


def faces(n=2, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_exported_weights_match_the_checkpoint(checkpoints, tmp_path):
    x = faces()
    original = Editor.load(checkpoints["stage2"])
    assert original.attributes == ATTRS and original.alignment == "celeba" and original.image_size == 32
    exact = Editor.load(export_weights(checkpoints["stage2"], tmp_path / "e32.safetensors", half=False))
    half = Editor.load(export_weights(checkpoints["stage2"], tmp_path / "e16.safetensors"))
    for mode in ("invert", "obfuscate"):
        reference = original.edit(x, ["Male"], mode)
        assert torch.equal(exact.edit(x, ["Male"], mode), reference)
        assert (half.edit(x, ["Male"], mode) - reference).abs().max() < 0.05
    assert (tmp_path / "e16.safetensors").stat().st_size < (tmp_path / "e32.safetensors").stat().st_size
    attacker = Attacker.load(export_weights(checkpoints["adversary"], tmp_path / "a.safetensors", half=False))
    assert torch.equal(attacker.predict(x), Attacker.load(checkpoints["adversary"]).predict(x))


def test_edit_semantics(checkpoints):
    editor = Editor.load(checkpoints["stage1"])
    x = faces()
    assert torch.equal(editor.edit(x, ["Male"], strength=0.0), x)
    full = editor.edit(x, ["Male"])
    half = editor.edit(x, ["Male"], strength=0.5)
    assert torch.allclose(half, x + 0.5 * (full - x), atol=1e-6)
    code = editor.codes(x)
    # With labels equal to the code's own reading, the labelled path is the label-free one.
    assert torch.equal(editor.edit(x, ["Male"], labels=(code > 0.5).float()), full)
    with pytest.raises(InfoscrubError, match="no Stage II mixer"):
        editor.edit(x, ["Male"], "obfuscate")
    with pytest.raises(InfoscrubError, match="unknown attribute"):
        editor.edit(x, ["Bald"])
    with pytest.raises(InfoscrubError, match="strength"):
        editor.edit(x, ["Male"], strength=1.5)


def test_wrong_files_are_one_line_errors(checkpoints, tmp_path):
    with pytest.raises(InfoscrubError, match="expected stage1 or stage2"):
        Editor.load(checkpoints["adversary"])
    with pytest.raises(InfoscrubError, match="expected adversary"):
        Attacker.load(export_weights(checkpoints["stage1"], tmp_path / "g.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(InfoscrubError, match="not a readable weights file"):
        Editor.load(tmp_path / "junk.safetensors")
    with pytest.raises(InfoscrubError, match="does not exist"):
        Editor.load(tmp_path / "missing.pt")


def test_bundled_weights_are_used_or_plainly_missing():
    try:
        path = bundled_weights("editor")
    except InfoscrubError as err:
        assert "no bundled editor weights" in str(err)
    else:
        assert Editor.load().attributes and path.is_file()


def test_export_cli(checkpoints, tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    assert main(["export", str(checkpoints["stage2"]), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and Editor.load(out).can_obfuscate
    assert main(["export", str(checkpoints["stage2"]), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(checkpoints["stage2"]), "--out", str(tmp_path / "w.pt")]) == 2
    assert main(["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert [p.name for p in tmp_path.glob(".*")] == []  # no temporary files left
