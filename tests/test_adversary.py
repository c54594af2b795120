"""The unseen adversary: mixup math, a tiny training run, its report, and Attacker.load."""

import json

import numpy as np
import pytest
import torch

from infoscrub.attributes import CELEBA_ATTRIBUTES
from infoscrub.config import apply_overrides
from infoscrub.data import load_image_set
from infoscrub.data.shards import PackSettings, pack_split
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Attacker
from infoscrub.evaluation.adversary import evaluate_adversary, train_adversary
from infoscrub.evaluation.metrics import expected_calibration_error
from infoscrub.training.adversary import AdversaryTrainConfig, lr_factor, mixup, mixup_lambda
from infoscrub.storage.checkpoints import load_checkpoint
from synthetic import make_celeba_folder

torch.set_num_threads(2)

TINY = ["model.width=8", "data.image_size=32", "run.batch_size=6", "run.log_every=1",
        "run.sample_every=1000", "run.progress=false", "run.steps=3"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_celeba_folder(tmp_path_factory.mktemp("adv") / "d", n=40, size=32)


def test_mixup_on_known_inputs():
    x = torch.tensor([[0.0, 2.0], [4.0, 8.0], [1.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    perm = torch.tensor([1, 2, 0])
    xm, ym = mixup(x, y, 0.75, perm)
    assert torch.allclose(xm, torch.tensor([[1.0, 3.5], [3.25, 6.25], [0.75, 1.25]]))
    assert torch.allclose(ym, torch.tensor([[0.75, 0.0], [0.25, 0.25], [1.0, 0.75]]))
    same_x, same_y = mixup(x, y, 1.0, perm)
    assert torch.equal(same_x, x) and torch.equal(same_y, y)


def test_mixup_lambda_is_seeded_beta():
    assert mixup_lambda(0.0, 0, 0, 5) == 1.0
    assert mixup_lambda(0.2, 0, 0, 5) == mixup_lambda(0.2, 0, 0, 5)
    draws = np.array([mixup_lambda(0.2, 0, 0, s) for s in range(4000)])
    assert np.all((draws >= 0) & (draws <= 1))
    assert abs(draws.mean() - 0.5) < 0.03  # Beta(a, a) is symmetric around 0.5
    assert abs(draws.var() - 1 / (4 * (2 * 0.2 + 1))) < 0.02  # Var = 1 / (4 (2a + 1))
    assert ((draws < 0.1) | (draws > 0.9)).mean() > 0.5  # alpha 0.2 mostly mixes lightly


def test_schedule_warms_up_then_decays_to_zero():
    assert lr_factor(0, 100, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_factor(9, 100, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_factor(10, 100, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_factor(55, 100, 0.1, "cosine") == pytest.approx(0.5)
    assert lr_factor(55, 100, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(100, 100, 0.1, "cosine") == pytest.approx(0.0)


def test_ece_on_known_inputs():
    assert expected_calibration_error(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0])) == 0.0
    # all predictions 0.8 (one bin) but only half positive: |0.8 - 0.5| = 0.3
    assert expected_calibration_error(torch.full((4,), 0.8), torch.tensor([1.0, 0.0, 1.0, 0.0])) == pytest.approx(0.3)
    # two bins of two samples each: 0.5 * |0.05 - 0| + 0.5 * |0.95 - 0.5| = 0.25
    p, y = torch.tensor([0.05, 0.05, 0.95, 0.95]), torch.tensor([0.0, 0.0, 1.0, 0.0])
    assert expected_calibration_error(p, y) == pytest.approx(0.25)


def test_default_config_covers_all_40_attributes():
    cfg = AdversaryTrainConfig()
    assert cfg.data.attributes == list(CELEBA_ATTRIBUTES) and cfg.mixup_alpha == 0.2


def test_tiny_run_reports_and_loads_as_attacker(tmp_path, data_root, capsys):
    out = tmp_path / "adv"
    cfg = apply_overrides(AdversaryTrainConfig(), TINY + [f"data.path={data_root}"])
    record = train_adversary(cfg, out)
    assert record["step"] == 3 and np.isfinite(record["loss"]) and "test_accuracy" in record
    state = load_checkpoint(out / "checkpoint.pt", "adversary")
    assert state["config"]["model"] == {"arch": "resnet18", "width": 8, "in_channels": 3}
    assert state["attributes"] == list(CELEBA_ATTRIBUTES) and set(state["models"]) == {"adversary"}
    assert sorted((out / "samples").glob("*.png"))

    report = json.loads((out / "adversary_report.json").read_text())
    assert report["split"] == "test" and report["count"] == 8  # 40 images: 8 in the test split
    assert set(report["per_attribute"]) == set(CELEBA_ATTRIBUTES)
    for row in report["per_attribute"].values():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["entropy_bits"] <= 1 and 0 <= row["ece"] <= 1
    assert set(report["mean"]) == {"accuracy", "balanced_accuracy", "entropy_bits", "ece"}
    printed = capsys.readouterr().out
    assert "Wearing_Hat" in printed and "ECE" in printed

    attacker = Attacker.load(out / "checkpoint.pt")
    assert attacker.attributes == list(CELEBA_ATTRIBUTES) and attacker.image_size == 32
    p = attacker.predict(torch.zeros(2, 3, 32, 32))
    assert p.shape == (2, 40) and ((p > 0) & (p < 1)).all()
    # the reusable evaluation gives the same numbers through the Attacker, on a chosen subset
    test = load_image_set(data_root, "test", 32)
    again = evaluate_adversary(attacker, test, ["Male", "Smiling"])
    assert again["attributes"] == ["Male", "Smiling"]
    for name in ("Male", "Smiling"):
        assert again["per_attribute"][name]["accuracy"] == pytest.approx(report["per_attribute"][name]["accuracy"])
        assert again["per_attribute"][name]["ece"] == pytest.approx(report["per_attribute"][name]["ece"], abs=1e-6)


def test_packed_train_data_needs_eval_path(tmp_path, data_root, capsys):
    pack_split(data_root, tmp_path / "packed", PackSettings(split="train", size=32))
    base = TINY + [f"data.path={tmp_path / 'packed'}", "run.steps=1", "data.attributes=Male,Smiling"]
    train_adversary(apply_overrides(AdversaryTrainConfig(), base), tmp_path / "a")
    assert "pass eval_path=" in capsys.readouterr().out
    assert not (tmp_path / "a" / "adversary_report.json").exists()
    train_adversary(apply_overrides(AdversaryTrainConfig(), base + [f"eval_path={data_root}"]), tmp_path / "b")
    report = json.loads((tmp_path / "b" / "adversary_report.json").read_text())
    assert report["attributes"] == ["Male", "Smiling"] and report["count"] == 8


def test_bad_optimizer_is_one_line(tmp_path, data_root):
    cfg = apply_overrides(AdversaryTrainConfig(), TINY + [f"data.path={data_root}", "optimizer.name=lion"])
    with pytest.raises(InfoscrubError, match="unknown optimizer.name 'lion'"):
        train_adversary(cfg, tmp_path / "x")
