"""The shared loop: schedule over images seen, timed runs, divergence, resume hygiene."""

import json
from pathlib import Path

import pytest
import torch

from infoscrub.errors import InfoscrubError
from infoscrub.training import loop
from infoscrub.storage.checkpoints import load_checkpoint
from infoscrub.training.config import OptimConfig
from infoscrub.training.ema import ema_beta, update_ema
from infoscrub.training.loop import lr_factor
from infoscrub.training.stage1 import train_stage1
from synthetic import make_celeba_folder
from tiny import tiny_config as tiny

@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_celeba_folder(tmp_path_factory.mktemp("celeba") / "d", n=24, size=32)


def steps_logged(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_schedule_is_constant_unless_a_decay_is_asked_for():
    constant = OptimConfig()
    assert constant.schedule == "constant"
    assert [lr_factor(p, None, constant) for p in (0.0, 0.5, 0.99, 1.0)] == [1.0, 1.0, 1.0, 1.0]
    linear = OptimConfig(schedule="linear", decay_start=0.5)
    assert lr_factor(0.25, None, linear) == 1.0
    assert lr_factor(0.75, None, linear) == pytest.approx(0.5)
    assert lr_factor(1.0, None, linear) == 0.0
    with pytest.raises(InfoscrubError, match="schedule"):
        lr_factor(0.1, None, OptimConfig(schedule="cosine"))


def test_restart_warmup_follows_images_since_the_restart():
    cfg = OptimConfig(restart_warmup_images=1000)
    assert lr_factor(0.0, 0, cfg) == pytest.approx(1 / 1000)
    assert lr_factor(0.0, 499, cfg) == pytest.approx(0.5)
    assert lr_factor(0.0, 5000, cfg) == 1.0
    assert lr_factor(0.0, None, cfg) == 1.0  # a fresh run has no warm-up


def test_ema_ramps_up_then_keeps_its_half_life():
    assert ema_beta(64, 64, 10_000, 0.05) == pytest.approx(0.5 ** (64 / 3.2))  # early: short memory
    assert ema_beta(64, 10**7, 10_000, 0.05) == pytest.approx(0.5 ** (64 / 10_000))
    assert ema_beta(64, 0, 10_000, 0.05) == 0.0
    ema, net = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = ema.weight.detach().clone()
    update_ema(ema, net, 0.75)
    assert torch.allclose(ema.weight, 0.75 * before + 0.25 * net.weight)


def test_images_seen_are_counted_and_checkpointed(tmp_path, data_root):
    train_stage1(tiny(data_root, "run.steps=3"), tmp_path / "r")
    state = load_checkpoint(tmp_path / "r" / "checkpoint.pt")
    assert state["extra"]["images_seen"] == 12
    last = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["images_seen"] == 12


def test_a_timed_run_stops_on_its_clock(tmp_path, data_root):
    from infoscrub.training.stage1 import Stage1Task

    cfg = tiny(data_root, "run.steps=100000")
    ctx, data = loop.prepare_training(cfg.run, cfg.data)
    task = Stage1Task(cfg, ctx)
    records = []
    loop.fit(task, ctx, data, cfg, tmp_path / "t", seconds=1.0,
             report=records.append)
    assert 1 <= records[-1]["step"] < 100000
    assert records[-1]["remaining_s"] == 0.0 or records[-1]["elapsed_s"] >= 1.0
    assert load_checkpoint(tmp_path / "t" / "checkpoint.pt")["step"] == records[-1]["step"]


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, data_root, monkeypatch):
    from infoscrub.training.stage1 import Stage1Task

    original = Stage1Task.train_step

    def poisoned(self, x, labels, step, gen):
        losses = original(self, x, labels, step, gen)
        if step >= 4:  # from the fifth step on, the generator's weights blow up
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))
            losses["g_loss"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(Stage1Task, "train_step", poisoned)
    run = tmp_path / "d"
    with pytest.raises(InfoscrubError, match="diverged by step 5"):
        train_stage1(tiny(data_root, "run.steps=10", "run.checkpoint_every=2"), run)
    good = load_checkpoint(run / "checkpoint.pt")
    assert good["step"] == 4
    assert all(torch.isfinite(v).all() for v in good["models"]["generator"].values())
    bad = load_checkpoint(run / loop.DIVERGED)
    assert bad["step"] == 5


def test_a_checkpoint_between_log_steps_never_saves_a_diverged_state(tmp_path, data_root, monkeypatch):
    from infoscrub.training.stage1 import Stage1Task

    original = Stage1Task.train_step

    def poisoned(self, x, labels, step, gen):
        losses = original(self, x, labels, step, gen)
        if step >= 2:
            losses["g_loss"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(Stage1Task, "train_step", poisoned)
    run = tmp_path / "d"
    with pytest.raises(InfoscrubError, match="diverged by step 4"):  # checkpoint at 4, log only at 10
        train_stage1(tiny(data_root, "run.steps=10", "run.checkpoint_every=2", "run.log_every=10"), run)
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2


def test_resume_truncates_the_log_and_removes_interrupted_writes(tmp_path, data_root, monkeypatch):
    from infoscrub.training.stage1 import Stage1Task

    cfg = tiny(data_root, "run.steps=8", "run.checkpoint_every=3")
    run = tmp_path / "r"
    original_step = Stage1Task.train_step

    def killed_in_step_6(self, x, labels, step, gen):  # after the checkpoint of step 3
        if step == 5:
            raise KeyboardInterrupt
        return original_step(self, x, labels, step, gen)

    monkeypatch.setattr(Stage1Task, "train_step", killed_in_step_6)
    with pytest.raises(KeyboardInterrupt):
        train_stage1(cfg, run)
    monkeypatch.undo()
    assert steps_logged(run) == [1, 2, 3, 4, 5]
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 3
    (run / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    train_stage1(cfg, run, resume=True)
    assert steps_logged(run) == list(range(1, 9))  # each step once
    assert not list(run.glob(".*.tmp"))
