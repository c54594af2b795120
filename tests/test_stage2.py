"""Stage II: the mixer trains on a frozen Stage I model, resumes exactly, and its
self-contained checkpoint loads as an obfuscating Editor."""

import json
from pathlib import Path

import pytest
import torch

from infoscrub.config import apply_overrides
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Editor
from infoscrub.models import MixerConfig, ObfuscationMixer, mix
from infoscrub.storage.checkpoints import load_checkpoint
from infoscrub.training.stage1 import Stage1Config, train_stage1
from infoscrub.training.stage2 import Stage2Config, train_stage2
from interrupt import train_until
from synthetic import make_celeba_folder

torch.set_num_threads(2)

ATTRS = "Male,Smiling,Eyeglasses"
STAGE1 = ["generator.width=8", "generator.max_channels=16", "discriminator.width=8",
          "discriminator.max_channels=16", "discriminator.layers=5", "data.image_size=32",
          "run.batch_size=4", "run.progress=false", "run.steps=2", f"data.attributes={ATTRS}"]
STAGE2 = ["mixer.width=8", "mixer.blocks=2", "run.batch_size=4", "run.log_every=1",
          "run.sample_every=1000", "run.progress=false", "optim.lr_g=1e-3"]


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory):
    base = tmp_path_factory.mktemp("stage2")
    root = make_celeba_folder(base / "data", n=24, size=32)
    cfg = apply_overrides(Stage1Config(), STAGE1 + [f"data.path={root}"])
    train_stage1(cfg, base / "s1")
    return root, base / "s1" / "checkpoint.pt"


def tiny(stage1_ckpt, *extra: str) -> Stage2Config:
    root, ckpt = stage1_ckpt
    return apply_overrides(Stage2Config(), STAGE2 + [f"data.path={root}", f"stage1_checkpoint={ckpt}", *extra])


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_alpha_is_a_per_pixel_weight_in_unit_interval():
    torch.manual_seed(0)
    mixer = ObfuscationMixer(3, MixerConfig(width=8, blocks=2))
    x, x_edit = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    code = torch.rand(2, 3)
    alpha = mixer(x, x_edit, code * 50, 1 - code * 50)  # extreme codes still give a valid alpha
    assert alpha.shape == (2, 1, 16, 16)
    assert alpha.min() >= 0 and alpha.max() <= 1
    out = mix(x, x_edit, alpha)
    assert torch.all(out <= torch.maximum(x, x_edit) + 1e-6) and torch.all(out >= torch.minimum(x, x_edit) - 1e-6)


def test_tiny_run_trains_only_the_mixer_and_loads_as_an_obfuscating_editor(tmp_path, stage1_ckpt):
    out = tmp_path / "s2"
    record = train_stage2(tiny(stage1_ckpt, "run.steps=4"), out)
    rows = metrics(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert all(torch.isfinite(torch.tensor(v)) for v in r.values())
        assert 0.0 <= r["alpha_mean"] <= 1.0
    assert record["step"] == 4 and "entropy" in record and "adv" in record
    assert sorted((out / "samples").glob("*.png")), "sample grid missing"

    s1 = load_checkpoint(stage1_ckpt[1], "stage1")
    s2 = load_checkpoint(out / "checkpoint.pt", "stage2")
    assert set(s2["models"]) == {"generator", "discriminator", "mixer"}
    assert set(s2["optimizers"]) == {"mixer"}
    # frozen: bit-identical to Stage I's G_ema (the generator that ships) and D
    for net, source in (("generator", "generator_ema"), ("discriminator", "discriminator")):
        for key, value in s1["models"][source].items():
            assert torch.equal(value, s2["models"][net][key]), (net, key)
    assert s2["config"]["generator"] == s1["config"]["generator"]
    assert s2["config"]["variant"] == "bidirectional" and s2["config"]["mixer"]["width"] == 8
    assert s2["attributes"] == ["Male", "Smiling", "Eyeglasses"] and s2["image_size"] == 32

    editor = Editor.load(out / "checkpoint.pt")
    assert editor.can_obfuscate and editor.image_size == 32
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    obf = editor.edit(faces, ["Smiling"], mode="obfuscate")
    inv = editor.edit(faces, ["Smiling"], mode="invert")
    assert obf.shape == (2, 3, 32, 32) and torch.isfinite(obf).all()
    # x_obf lies between the input and its inversion, pixel by pixel
    assert torch.all(obf <= torch.maximum(faces, inv) + 1e-5) and torch.all(obf >= torch.minimum(faces, inv) - 1e-5)


def test_resume_is_exact(tmp_path, stage1_ckpt):
    cfg = lambda: tiny(stage1_ckpt, "run.steps=4", "run.checkpoint_every=2")  # noqa: E731
    train_stage2(cfg(), tmp_path / "straight")
    train_until(train_stage2, cfg(), tmp_path / "resumed", stop_after=2)
    train_stage2(cfg(), tmp_path / "resumed", resume=True)
    a, b = metrics(tmp_path / "straight"), metrics(tmp_path / "resumed")
    assert [m["step"] for m in b] == [1, 2, 3, 4]
    for key in ("loss", "adv", "entropy", "alpha_mean"):
        assert a[2][key] == b[2][key], key
        assert a[3][key] == b[3][key], key


def test_attributes_must_match_stage1(tmp_path, stage1_ckpt):
    with pytest.raises(InfoscrubError, match="must be the Stage I checkpoint's"):
        train_stage2(tiny(stage1_ckpt, "run.steps=1", "data.attributes=Male,Young"), tmp_path / "x")
    with pytest.raises(InfoscrubError, match="needs a Stage I checkpoint"):
        train_stage2(apply_overrides(Stage2Config(), ["run.steps=1"]), tmp_path / "y")
    with pytest.raises(InfoscrubError, match="is a stage2 checkpoint|does not exist"):
        train_stage2(tiny(stage1_ckpt, f"stage1_checkpoint={tmp_path / 'none.pt'}"), tmp_path / "z")


def test_a_diverged_stage1_checkpoint_is_refused(tmp_path, stage1_ckpt):
    root, ckpt = stage1_ckpt
    state = torch.load(ckpt, weights_only=True)
    first = next(iter(state["models"]["generator_ema"]))
    state["models"]["generator_ema"][first].fill_(float("nan"))
    bad = tmp_path / "diverged.pt"
    torch.save(state, bad)
    with pytest.raises(InfoscrubError, match="NaN or infinite"):
        train_stage2(tiny((root, bad), "run.steps=1"), tmp_path / "s2")
    assert not (tmp_path / "s2" / "checkpoint.pt").exists()
