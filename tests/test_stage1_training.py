"""Stage I training: a tiny CPU run learns, checkpoints, resumes exactly, runs under torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from infoscrub.errors import InfoscrubError
from infoscrub.inference import Editor
from infoscrub.storage.checkpoints import load_checkpoint
from infoscrub.training.stage1 import sample_inversion_masks, train_stage1
from interrupt import train_until
from synthetic import make_celeba_folder
from tiny import TINY_NETWORKS, TINY_RUN, tiny_config

TINY = TINY_NETWORKS + TINY_RUN


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_celeba_folder(tmp_path_factory.mktemp("celeba") / "d", n=24, size=32)


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_masks_are_non_empty_random_subsets():
    gen = torch.Generator().manual_seed(0)
    masks = sample_inversion_masks(torch.zeros(500, 6), 0.1, gen)
    assert masks.sum(1).min() >= 1
    assert 1.3 < masks.sum(1).mean() < 1.8  # one chosen + about 0.1 * 5 more
    assert (masks.sum(0) > 50).all()  # every attribute gets inverted


def test_tiny_run_learns_and_writes_everything(tmp_path, data_root):
    cfg = tiny_config(data_root, "run.steps=30", "optim.lr_g=1e-3", "generator.identity_init=false",
                      "run.checkpoint_every=10")
    train_stage1(cfg, tmp_path / "run")
    metrics = read_metrics(tmp_path / "run")
    assert len(metrics) == 30
    assert all(torch.isfinite(torch.tensor(v)) for m in metrics for v in m.values())
    first = sum(m["g_rec"] for m in metrics[:5]) / 5
    last = sum(m["g_rec"] for m in metrics[-5:]) / 5
    assert last < 0.7 * first
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt", "stage1")
    assert state["step"] == 30 and state["attributes"] == ["Male", "Smiling", "Eyeglasses"]
    assert state["alignment"] == "celebahq" and state["config"]["variant"] == "bidirectional"
    assert set(state["models"]) == {"generator", "generator_ema", "discriminator"}
    grid = sorted((tmp_path / "run" / "samples").glob("*.png"))
    assert grid, "final sample grid missing"
    editor = Editor.load(tmp_path / "run" / "checkpoint.pt")
    out = editor.edit(torch.zeros(2, 3, 32, 32), ["Smiling"])
    assert out.shape == (2, 3, 32, 32)
    with pytest.raises(InfoscrubError, match="already holds a run"):
        train_stage1(cfg, tmp_path / "run")


@pytest.mark.parametrize("variant", ["d_attr", "d_attr_at"])
def test_ablations_train(tmp_path, data_root, variant):
    train_stage1(tiny_config(data_root, "run.steps=2", f"variant={variant}"), tmp_path / variant)
    state = load_checkpoint(tmp_path / variant / "checkpoint.pt")
    assert state["models"]["discriminator"]["classify.parametrizations.weight.original"].shape[0] == 3


def test_resume_is_exact(tmp_path, data_root):
    cfg = tiny_config(data_root, "run.steps=6", "run.checkpoint_every=3")
    train_stage1(cfg, tmp_path / "straight")
    train_until(train_stage1, cfg, tmp_path / "resumed", stop_after=3)
    train_stage1(cfg, tmp_path / "resumed", resume=True)
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert [m["step"] for m in b] == [1, 2, 3, 4, 5, 6]
    for key in ("g_loss", "d_loss", "g_rec", "g_bi", "g_cycle"):
        assert a[3][key] == b[3][key], key  # the first step after the resume
        assert a[5][key] == b[5][key], key


def test_resume_refuses_a_changed_model(tmp_path, data_root):
    train_stage1(tiny_config(data_root, "run.steps=1"), tmp_path / "r")
    with pytest.raises(InfoscrubError, match="config differs in loss"):
        train_stage1(tiny_config(data_root, "run.steps=2", "loss.cont=1"), tmp_path / "r", resume=True)


@pytest.mark.slow
def test_two_process_torchrun_on_cpu(tmp_path, data_root):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           "-m", "infoscrub.cli", "train", "stage1", "--data", str(data_root), "--out", str(out),
           "--steps", "3", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "world 2" in result.stdout
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 3


def test_gradient_averaging_matches_the_mean(tmp_path):
    script = tmp_path / "avg.py"
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from infoscrub.training.distributed import init_distributed, average_gradients\n"
        "info = init_distributed('cpu')\n"
        "torch.manual_seed(0)\n"
        "net = torch.nn.Linear(3, 1)\n"
        "x = torch.full((1, 3), float(info.rank + 1))\n"
        "net(x).sum().backward()\n"
        "average_gradients(net, info)\n"
        "assert torch.allclose(net.weight.grad, torch.full((1, 3), 1.5)), net.weight.grad\n"
        "dist.destroy_process_group()\n")
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
