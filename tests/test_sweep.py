"""``infoscrub sweep``: spec parsing, key resolution, a 2-value sweep of 2 steps per run."""

import argparse
import json

import pytest
import torch

from infoscrub.cli import sweep_cmd
from infoscrub.evaluation import sweep
from infoscrub.config import config_to_dict
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Attacker
from infoscrub.storage.checkpoints import load_checkpoint, save_checkpoint
from infoscrub.training.stage1 import Stage1Config
from synthetic import make_celeba_folder

torch.set_num_threads(2)

TINY = ["generator.width=8", "generator.max_channels=16", "discriminator.width=8",
        "discriminator.max_channels=16", "discriminator.layers=5", "data.image_size=32",
        "run.log_every=1", "run.sample_every=1000", "run.progress=false"]
ATTRS = "Male,Smiling"


def parse(argv):
    parser = argparse.ArgumentParser(prog="infoscrub")
    sweep_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("sweep")
    root = make_celeba_folder(base / "data", n=40, size=32)
    attacker = Attacker.untrained(["Male", "Smiling", "Young"], image_size=32)
    adv = base / "adv.pt"
    save_checkpoint(adv, kind="adversary", config={"model": {"arch": "resnet18", "width": 8}},
                    attributes=attacker.attributes, alignment="celebahq", image_size=32, step=0,
                    models={"adversary": attacker.model})
    return root, adv


def sweep_args(setup, out, *extra):
    root, adv = setup
    return parse(["sweep", "eps_s=0.05,0.2", "--data", str(root), "--out", str(out), "--adversary", str(adv),
                  "--steps", "2", "--batch-size", "4", "--attributes", ATTRS, "--device", "cpu", *extra, *TINY])


@pytest.mark.parametrize("text,expected", [
    ("eps_s=0.05,0.1,0.2", ("eps_s", ["0.05", "0.1", "0.2"])),
    ("loss.eps_s = 0.1", ("loss.eps_s", ["0.1"])),
    ("variant=d_attr,bidirectional", ("variant", ["d_attr", "bidirectional"])),
])
def test_parse_spec(text, expected):
    assert sweep.parse_spec(text) == expected


@pytest.mark.parametrize("text,message", [
    ("eps_s", "not of the form"), ("=0.1", "not of the form"), ("eps_s=", "not of the form"),
    ("eps_s=0.1,0.1", "repeats a value"), ("data.path=a/b", "slashes"),
])
def test_parse_spec_errors(text, message):
    with pytest.raises(InfoscrubError, match=message):
        sweep.parse_spec(text)


def test_resolve_key():
    config = config_to_dict(Stage1Config())
    assert sweep.resolve_key(config, "eps_s") == "loss.eps_s"
    assert sweep.resolve_key(config, "loss.eps_s") == "loss.eps_s"
    assert sweep.resolve_key(config, "variant") == "variant"
    with pytest.raises(InfoscrubError, match="ambiguous: generator.width, discriminator.width"):
        sweep.resolve_key(config, "width")
    with pytest.raises(InfoscrubError, match="unknown sweep key 'eps_x'"):
        sweep.resolve_key(config, "eps_x")


def test_configs_apply_value_last_and_validate(setup, tmp_path):
    name, key, configs = sweep.build_configs(sweep_cmd.request_from_args(sweep_args(setup, tmp_path / "s")))
    assert (name, key) == ("eps_s", "loss.eps_s")
    assert [(v, c.loss.eps_s, c.run.steps, c.data.attributes) for v, c in configs] == [
        ("0.05", 0.05, 2, ["Male", "Smiling"]), ("0.2", 0.2, 2, ["Male", "Smiling"])]
    bad = parse(["sweep", "eps_s=0.1,lots", "--out", str(tmp_path), "--adversary", "x"])
    with pytest.raises(InfoscrubError, match="expected float"):
        sweep.build_configs(sweep_cmd.request_from_args(bad))


def test_two_value_sweep_trains_each_and_writes_the_table(setup, tmp_path, monkeypatch, capsys):
    calls = []

    def fake_evaluate_inversion(editor, attacker, image_set, attributes, per_attribute, seed, channels=()):
        calls.append((editor.info["config"]["loss"]["eps_s"], attributes, per_attribute, seed, image_set.split))
        return {"privacy": 0.1 + len(calls) / 100, "utility": 0.9 - len(calls) / 100, "privacy_all": 0.5}

    monkeypatch.setattr(sweep, "evaluate_inversion", fake_evaluate_inversion)
    out = tmp_path / "sweep"
    args = sweep_args(setup, out, "--per-attribute", "3", "--seed", "7")
    assert args.handler(args) == 0
    for value, eps in (("0.05", 0.05), ("0.2", 0.2)):
        state = load_checkpoint(out / f"eps_s={value}" / "checkpoint.pt", "stage1")
        assert state["step"] == 2 and state["config"]["loss"]["eps_s"] == eps
        assert (out / f"eps_s={value}" / "inversion_metrics.json").is_file()
    assert calls == [(0.05, ["Male", "Smiling"], 3, 7, "test"), (0.2, ["Male", "Smiling"], 3, 7, "test")]
    result = json.loads((out / "sweep.json").read_text())
    assert result["key"] == "loss.eps_s" and result["evaluated"]
    assert [(r["value"], r["privacy"], r["utility"]) for r in result["runs"]] == [
        ("0.05", pytest.approx(0.11), pytest.approx(0.89)), ("0.2", pytest.approx(0.12), pytest.approx(0.88))]
    table = (out / "sweep.md").read_text()
    assert "| eps_s | 0.05 | 0.2 |" in table and "| privacy (lower is better) | 0.110 | 0.120 |" in table
    assert "0.155/0.147/0.130" in table and "0.863/0.807/0.781" in table
    assert "| utility (higher is better) | 0.890 | 0.880 |" in capsys.readouterr().out

    # A second call reuses the finished runs (no retraining) and evaluates again.
    assert args.handler(args) == 0
    assert "already trained (2 steps), reusing it" in capsys.readouterr().out


def test_sweep_without_evaluation_trains_only(setup, tmp_path):
    out = tmp_path / "sweep"
    args = sweep_args(setup, out, "--no-eval")
    assert args.handler(args) == 0
    result = json.loads((out / "sweep.json").read_text())
    assert not result["evaluated"] and "--no-eval" in result["note"]
    assert [r["value"] for r in result["runs"]] == ["0.05", "0.2"]
    assert all(load_checkpoint(r["checkpoint"])["step"] == 2 for r in result["runs"])
    assert "| privacy (lower is better) | n/a | n/a |" in (out / "sweep.md").read_text()


def test_real_protocol(setup, tmp_path):
    out = tmp_path / "sweep"
    args = sweep_args(setup, out, "--per-attribute", "2")
    args.spec = "eps_s=0.1"
    assert args.handler(args) == 0
    run = json.loads((out / "sweep.json").read_text())["runs"][0]
    assert run["utility"] is None or 0.0 <= run["utility"] <= 1.0
    assert run["privacy"] is None or 0.0 <= run["privacy"] <= 1.0


def test_missing_adversary_fails_before_training(setup, tmp_path):
    args = sweep_args(setup, tmp_path / "s")
    args.adversary = str(tmp_path / "nope.pt")
    with pytest.raises(InfoscrubError, match="does not exist"):
        args.handler(args)
    assert not (tmp_path / "s").exists()


def test_sweep_reports_privacy_after_sharing(setup, tmp_path):
    out = tmp_path / "sweep"
    args = sweep_args(setup, out, "--per-attribute", "2", "--reshare", "jpeg75")
    args.spec = "eps_s=0.1"
    assert args.handler(args) == 0
    run = json.loads((out / "sweep.json").read_text())["runs"][0]
    assert set(run["privacy_shared"]) == {"jpeg75"}
    assert "| privacy after jpeg75 |" in (out / "sweep.md").read_text()
