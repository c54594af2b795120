"""The two-Gaussian toy (paper Fig. 3): output format, routing of the bi-directional heads,
and the ``toy`` subcommand. Numbers are not asserted to be good here (too few steps);
benchmarks/toy.py runs the full toy."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
import torch

from infoscrub.errors import InfoscrubError
from infoscrub.toy import (
    NP,
    PN,
    Discriminator,
    ToyConfig,
    Translator,
    d_step_losses,
    g_step_losses,
    run_toy,
    sample,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VARIANTS = ("d_attr", "d_attr_at", "bidirectional")


def _fast_cfg(**kw) -> ToyConfig:
    base = dict(steps=150, d_warmup=20, batch=64, eval_points=200, hidden=32)
    base.update(kw)
    return ToyConfig(**base)


def _check_result(result: dict, cfg: ToyConfig) -> None:
    assert set(result["variants"]) == set(cfg.variants)
    for variant, per in result["variants"].items():
        for direction in ("pos_to_neg", "neg_to_pos", "overall"):
            share = per[direction]["share_inside_2sigma"]
            dist = per[direction]["mean_dist_to_target_mean"]
            assert 0.0 <= share <= 1.0, (variant, direction, share)
            assert dist >= 0.0 and dist == dist, (variant, direction, dist)
        both = (per["pos_to_neg"]["share_inside_2sigma"] + per["neg_to_pos"]["share_inside_2sigma"]) / 2
        assert per["overall"]["share_inside_2sigma"] == pytest.approx(both, abs=1e-3)
    settings = result["settings"]
    for key in ("seed", "steps", "margin", "w_dist", "w_cycle", "w_identity", "w_attr",
                "lr_g", "lr_d", "with_realism"):
        assert key in settings
    assert settings["seed"] == cfg.seed and settings["steps"] == cfg.steps
    assert 0.86 < result["reference_share_perfect_translation"] < 0.87


def test_run_toy_writes_json_and_png(tmp_path):
    cfg = _fast_cfg()
    result = run_toy(cfg, out_dir=tmp_path, plot=True)
    _check_result(result, cfg)
    on_disk = json.loads((tmp_path / "toy.json").read_text())
    assert on_disk["variants"] == result["variants"]
    png = (tmp_path / "toy.png").read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    from PIL import Image

    with Image.open(tmp_path / "toy.png") as im:
        im.verify()


def test_run_toy_with_realism_no_plot(tmp_path):
    cfg = _fast_cfg(steps=60, with_realism=True, variants=("bidirectional",))
    result = run_toy(cfg, out_dir=tmp_path, plot=False)
    _check_result(result, cfg)
    assert result["settings"]["with_realism"] is True
    assert not (tmp_path / "toy.png").exists()


def test_same_seed_same_data_stream():
    cfg = ToyConfig()
    a = sample(cfg, 8, torch.Generator().manual_seed(3))
    b = sample(cfg, 8, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[1][:8].eq(1).all() and a[1][8:].eq(0).all()
    assert (a[0][:8, 0] > 0).all() and (a[0][8:, 0] < 0).all()  # positive cluster on the right


def _one_direction(label: float, n: int = 32):
    cfg = ToyConfig()
    torch.manual_seed(0)
    x, labels = sample(cfg, n, torch.Generator().manual_seed(0))
    keep = labels[:, 0] == label
    return cfg, x[keep], labels[keep]


def _head_grads(disc: Discriminator) -> list[float]:
    return [0.0 if h.weight.grad is None else h.weight.grad.abs().sum().item() for h in disc.heads]


@pytest.mark.parametrize("label,active,silent", [(1.0, PN, NP), (0.0, NP, PN)])
def test_d_fake_step_routes_to_one_head(label, active, silent):
    """A pos->neg edit (label 1) trains only C_pn on the fake, with its original label 1;
    a neg->pos edit only C_np, with label 0."""
    cfg, x, labels = _one_direction(label)
    disc = Discriminator(16, heads=2, realism=False)
    fake = x + torch.tensor([-4.0 if label == 1 else 4.0, 0.0])  # a perfect translation
    d_step_losses(disc, x, labels, fake, "bidirectional", cfg)["d_fake"].backward()
    grads = _head_grads(disc)
    assert grads[active] > 0 and grads[silent] == 0
    # the fake is taught its ORIGINAL label: one step moves that head's p toward it
    with torch.no_grad():
        before = torch.sigmoid(disc.attributes(fake)[:, active, 0]).mean().item()
    torch.optim.SGD(disc.parameters(), lr=0.5).step()
    with torch.no_grad():
        after = torch.sigmoid(disc.attributes(fake)[:, active, 0]).mean().item()
    assert abs(after - label) < abs(before - label)
    disc.zero_grad(set_to_none=True)
    fake_req = fake.clone().requires_grad_(True)
    d_step_losses(disc, x, labels, fake_req, "bidirectional", cfg)["d_fake"].backward()
    # the discriminator loss never reaches the translator's output
    assert fake_req.grad is None


@pytest.mark.parametrize("label,active,silent", [(1.0, PN, NP), (0.0, NP, PN)])
def test_g_step_routes_to_one_head(label, active, silent):
    cfg, x, labels = _one_direction(label)
    disc = Discriminator(16, heads=2, realism=False)
    trans = Translator(16)
    g_step_losses(trans, disc, x, labels, "bidirectional", cfg)["g_attr"].backward()
    grads = _head_grads(disc)
    assert grads[active] > 0 and grads[silent] == 0


def test_d_fake_single_head_variants():
    cfg, x, labels = _one_direction(1.0)
    fake = x - torch.tensor([4.0, 0.0])
    disc = Discriminator(16, heads=1, realism=False)
    d_step_losses(disc, x, labels, fake, "d_attr", cfg)["d_fake"].backward()
    assert _head_grads(disc) == [0.0]  # d_attr never learns from fakes
    disc.zero_grad(set_to_none=True)
    d_step_losses(disc, x, labels, fake, "d_attr_at", cfg)["d_fake"].backward()
    assert _head_grads(disc)[0] > 0


def _parser() -> argparse.ArgumentParser:
    from infoscrub.cli import toy_cmd

    parser = argparse.ArgumentParser(prog="infoscrub")
    sub = parser.add_subparsers(dest="command", required=True)
    toy_cmd.register(sub)
    return parser


def test_cli_parser_does_not_import_torch():
    code = ("import sys, argparse; from infoscrub.cli import toy_cmd; "
            "p = argparse.ArgumentParser(); toy_cmd.register(p.add_subparsers()); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_rejects_file_as_out(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    args = _parser().parse_args(["toy", "--out", str(path)])
    with pytest.raises(InfoscrubError, match="existing file"):
        args.handler(args)


def test_cli_runs_and_prints_json(tmp_path, capsys):
    args = _parser().parse_args(["toy", "--out", str(tmp_path / "o"), "--steps", "20", "--seed", "1",
                                 "--variants", "bidirectional", "--no-plot"])
    assert args.handler(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["settings"]["seed"] == 1 and result["settings"]["steps"] == 20
    assert list(result["variants"]) == ["bidirectional"]
    assert (tmp_path / "o" / "toy.json").is_file()
