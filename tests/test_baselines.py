"""Baselines (StarGAN, IcGAN): architectures, parameter counts, the gradient penalty, tiny
CPU training runs through the real trainers, exact resume, the editors, load_editor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infoscrub.baselines.icgan import IcGANEditor, IcGANModelConfig
from infoscrub.baselines.icgan import build_networks as build_icgan
from infoscrub.baselines.icgan_training import IcGANConfig, gan_steps, train_icgan
from infoscrub.baselines.stargan import StarGANEditor, StarGANModelConfig
from infoscrub.baselines.stargan import build_networks as build_stargan
from infoscrub.baselines.stargan_training import StarGANConfig, gradient_penalty, train_stargan
from infoscrub.config import apply_overrides
from infoscrub.errors import InfoscrubError
from infoscrub.editors import load_editor
from infoscrub.models import count_parameters
from infoscrub.storage.checkpoints import load_checkpoint
from interrupt import train_until
from synthetic import make_celeba_folder

torch.set_num_threads(min(2, torch.get_num_threads()))

ATTRS = ["Male", "Smiling", "Eyeglasses"]
COMMON = ["data.image_size=32", "run.batch_size=4", "run.log_every=1", "run.sample_every=1000",
          "run.progress=false", f"data.attributes={','.join(ATTRS)}"]
STARGAN_TINY = COMMON + ["model.g_conv_dim=8", "model.d_conv_dim=8", "model.g_repeat_num=1",
                         "model.d_repeat_num=5"]
ICGAN_TINY = COMMON + ["model.z_dim=8", "model.g_conv_dim=8", "model.d_conv_dim=8", "model.e_conv_dim=8",
                       "model.e_hidden=16"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_celeba_folder(tmp_path_factory.mktemp("celeba") / "d", n=24, size=32)


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- architectures


def test_stargan_official_parameter_counts_and_shapes():
    G, D = build_stargan(5, 128, StarGANModelConfig())
    assert count_parameters(G) == 8_430_528  # official release: ~8.4M
    assert count_parameters(D) == 44_762_048  # official release: ~44.8M
    assert abs(count_parameters(G) / 1e6 - 8.4) < 0.05 and abs(count_parameters(D) / 1e6 - 44.8) < 0.05
    norms = [m for m in G.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert len(norms) == 1 + 2 + 12 + 2 and all(m.affine and m.track_running_stats for m in norms)
    convs = [m for m in D.main if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.stride == (2, 2) for c in convs)
    assert D.conv2.kernel_size == (2, 2)  # image_size / 64
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        src, cls = D(x)
        y = G(x, torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1]], dtype=torch.float32))
    assert src.shape == (2, 1, 2, 2) and cls.shape == (2, 5)
    assert y.shape == x.shape and y.abs().max() <= 1


def test_stargan_condition_is_tiled_into_the_input():
    G, _ = build_stargan(3, 32, StarGANModelConfig(8, 8, 1, 5))
    assert G.main[0].in_channels == 3 + 3
    x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad():
        a, b = G(x, torch.tensor([[0.0, 0, 0]])), G(x, torch.tensor([[1.0, 0, 0]]))
    assert not torch.allclose(a, b)


def test_icgan_128_adaptation_shapes():
    nets = build_icgan(10, 128, IcGANModelConfig())
    z = torch.randn(2, 100)
    y = torch.randint(0, 2, (2, 10)).float()
    with torch.no_grad():
        for m in (nets.generator, nets.discriminator, nets.encoder_z, nets.encoder_y):
            m.eval()
        x = nets.generator(z, y)
        assert x.shape == (2, 3, 128, 128)
        assert nets.discriminator(x, y).shape == (2,)
        assert nets.encoder_z(x).shape == (2, 100) and nets.encoder_y(x).shape == (2, 10)
    ups = [m for m in nets.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == 6 and ups[0].out_channels == 16 * 64  # one stage more than the 64x64 original
    # y joins the discriminator right after its first convolution
    first_after = [m for m in nets.discriminator.rest if isinstance(m, torch.nn.Conv2d)][0]
    assert first_after.in_channels == 64 + 10


# ---------------------------------------------------------------- gradient penalty


class _Linear(torch.nn.Module):
    """D(x) = <w, x> + b per sample: its input gradient is w everywhere, norm |w|."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1) + 0.5


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic(scale):
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)
    w = w / w.norm() * scale  # gradient norm = scale exactly
    D = _Linear(w)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(D, real, fake, gen=torch.Generator().manual_seed(1))
    assert gp.item() == pytest.approx((scale - 1.0) ** 2, abs=1e-5)
    gp.backward()  # create_graph: the penalty trains D; d/dw (|w|-1)^2 = 2(|w|-1) w/|w|
    if scale > 0:
        expected = 2 * (scale - 1.0) * w / scale
        assert torch.allclose(D.w.grad, expected, atol=1e-5)


def test_gradient_penalty_uses_the_interpolates():
    # D(x) = sum(x^2)/2: gradient at x_hat is x_hat itself, so the penalty is (|x_hat| - 1)^2.
    class Square(torch.nn.Module):
        def forward(self, x):
            return (x.flatten(1) ** 2).sum(1) / 2, None

    real, fake = torch.full((2, 1, 2, 2), 1.0), torch.zeros(2, 1, 2, 2)
    alpha = torch.tensor([0.25, 1.0]).view(2, 1, 1, 1)
    gp = gradient_penalty(Square(), real, fake, alpha=alpha)
    norms = torch.tensor([0.25 * 2, 1.0 * 2])  # |x_hat| = alpha * sqrt(4)
    assert gp.item() == pytest.approx(((norms - 1) ** 2).mean().item())


# ---------------------------------------------------------------- training


def test_stargan_tiny_run_trains_checkpoints_and_edits(tmp_path, data_root):
    cfg = apply_overrides(StarGANConfig(), STARGAN_TINY + [f"data.path={data_root}", "run.steps=10",
                                                           "run.checkpoint_every=5"])
    assert cfg.optim.lr_g == cfg.optim.lr_d == 1e-4 and cfg.n_critic == 5
    assert (cfg.loss.lambda_gp, cfg.loss.lambda_cls, cfg.loss.lambda_rec) == (10.0, 1.0, 10.0)
    train_stargan(cfg, tmp_path / "run")
    metrics = read_metrics(tmp_path / "run")
    assert [m["step"] for m in metrics] == list(range(1, 11))
    assert all(np.isfinite(v) for m in metrics for v in m.values())
    # G steps only on every 5th step: only their log lines carry G losses
    assert [("g_loss_rec" in m) for m in metrics] == [i % 5 == 4 for i in range(10)]
    assert all(m["d_loss_gp"] >= 0 for m in metrics)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt", "stargan")
    assert state["step"] == 10 and state["attributes"] == ATTRS
    assert set(state["models"]) == {"generator", "discriminator"}
    assert list((tmp_path / "run" / "samples").glob("*.png"))

    editor = load_editor(tmp_path / "run" / "checkpoint.pt")
    assert isinstance(editor, StarGANEditor) and not editor.can_obfuscate
    assert (editor.attributes, editor.alignment, editor.image_size) == (ATTRS, "celebahq", 32)
    _check_editor(editor)


def test_stargan_resume_is_exact(tmp_path, data_root):
    cfg = apply_overrides(StarGANConfig(), STARGAN_TINY + [f"data.path={data_root}", "run.steps=10",
                                                           "run.checkpoint_every=5"])
    train_stargan(cfg, tmp_path / "straight")
    train_until(train_stargan, cfg, tmp_path / "resumed", stop_after=5)
    train_stargan(cfg, tmp_path / "resumed", resume=True)
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert [m["step"] for m in b] == list(range(1, 11))
    for i in (5, 9):  # the first step after the resume, and the next G step
        for key in ("d_loss", "d_loss_gp", "g_loss", "g_loss_rec"):
            assert a[i].get(key) == b[i].get(key), (i, key)  # G losses only on G steps
    assert "g_loss" in a[9] and "g_loss" not in a[5]


def test_icgan_tiny_run_stages_and_edits(tmp_path, data_root):
    cfg = apply_overrides(IcGANConfig(), ICGAN_TINY + [f"data.path={data_root}", "run.steps=10",
                                                       "gan_fraction=0.5", "run.checkpoint_every=5"])
    assert gan_steps(cfg) == 5
    train_icgan(cfg, tmp_path / "run")
    metrics = read_metrics(tmp_path / "run")
    assert [m["step"] for m in metrics] == list(range(1, 11))
    assert all("d_loss" in m and "g_loss" in m and "ez_loss" not in m for m in metrics[:5])
    assert all("ez_loss" in m and "ey_loss" in m and "d_loss" not in m for m in metrics[5:])
    assert all(np.isfinite(v) for m in metrics for v in m.values())
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt", "icgan")
    assert set(state["models"]) == {"generator", "discriminator", "encoder_z", "encoder_y"}
    # the cGAN is frozen during the encoder phase: G's weights at step 5 and 10 are equal
    train_until(train_icgan, cfg, tmp_path / "half", stop_after=5)
    half = load_checkpoint(tmp_path / "half" / "checkpoint.pt", "icgan")
    for key, value in half["models"]["generator"].items():
        if value.is_floating_point() and "running" not in key:
            assert torch.equal(value, state["models"]["generator"][key]), key
    assert not torch.equal(half["models"]["encoder_z"]["fc.1.weight"], state["models"]["encoder_z"]["fc.1.weight"])

    editor = load_editor(tmp_path / "run" / "checkpoint.pt")
    assert isinstance(editor, IcGANEditor) and not editor.can_obfuscate
    assert (editor.attributes, editor.alignment, editor.image_size) == (ATTRS, "celebahq", 32)
    _check_editor(editor)


def test_icgan_resume_is_exact_across_the_phase_boundary(tmp_path, data_root):
    cfg = apply_overrides(IcGANConfig(), ICGAN_TINY + [f"data.path={data_root}", "run.steps=8",
                                                       "gan_fraction=0.5", "run.checkpoint_every=3"])
    train_icgan(cfg, tmp_path / "straight")
    train_until(train_icgan, cfg, tmp_path / "resumed", stop_after=3)
    train_icgan(cfg, tmp_path / "resumed", resume=True)
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert [m["step"] for m in b] == list(range(1, 9))
    assert a[3] == {**b[3], "images_per_s": a[3]["images_per_s"]}
    assert a[7]["ez_loss"] == b[7]["ez_loss"] and a[7]["ey_loss"] == b[7]["ey_loss"]


def test_cli_trains_a_baseline(tmp_path, data_root, capsys):
    from infoscrub.cli import main

    code = main(["train", "stargan", "--data", str(data_root), "--out", str(tmp_path / "cli"),
                 "--steps", "2", *STARGAN_TINY])
    assert code == 0
    assert "stargan:" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "cli" / "checkpoint.pt")["kind"] == "stargan"


# ---------------------------------------------------------------- editors


def _check_editor(editor) -> None:
    n = len(editor.attributes)
    faces = torch.rand(3, 3, editor.image_size, editor.image_size) * 2 - 1
    out = editor.edit(faces, ["Smiling"])
    assert out.shape == faces.shape and torch.isfinite(out).all() and out.abs().max() <= 1 + 1e-5
    assert torch.equal(editor.edit(faces, ["Smiling"], strength=0.0), faces)
    half = editor.edit(faces, ["Smiling"], strength=0.5)
    assert torch.allclose(half, faces + 0.5 * (out - faces), atol=1e-5)
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 1]])[:, :n]
    assert editor.edit(faces, ["male", "Eyeglasses"], labels=labels).shape == faces.shape
    with pytest.raises(InfoscrubError, match="only inverts"):
        editor.edit(faces, ["Smiling"], mode="obfuscate")
    with pytest.raises(InfoscrubError, match="unknown attribute"):
        editor.edit(faces, ["Wearing_Hat"])
    with pytest.raises(InfoscrubError, match="labels must have shape"):
        editor.edit(faces, ["Smiling"], labels=torch.zeros(3, n + 1))
    assert editor.codes(faces).shape == (3, n)


@pytest.mark.parametrize("cls", [StarGANEditor, IcGANEditor])
def test_untrained_editors_follow_the_editor_interface(cls):
    editor = cls.untrained(ATTRS, image_size=32)
    assert editor.can_obfuscate is False and editor.alignment == "celebahq"
    _check_editor(editor)


def test_stargan_editor_flips_only_the_chosen_condition(monkeypatch):
    editor = StarGANEditor.untrained(ATTRS, image_size=32)
    seen = []
    monkeypatch.setattr(editor, "generator", lambda x, c: (seen.append(c.clone()), x)[1])
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    editor.edit(torch.zeros(2, 3, 32, 32), ["Smiling"], labels=labels)
    assert torch.equal(seen[-1], torch.tensor([[1.0, 1, 1], [0, 0, 0]]))
    # label-free: the current values come from the auxiliary classifier
    monkeypatch.setattr(editor, "codes", lambda x: torch.tensor([[0.9, 0.2, 0.7], [0.1, 0.6, 0.4]]))
    editor.edit(torch.zeros(2, 3, 32, 32), ["Male", "Eyeglasses"])
    assert torch.equal(seen[-1], torch.tensor([[0.0, 0, 0], [1, 1, 1]]))


def test_stargan_editor_uses_per_image_statistics():
    editor = StarGANEditor.untrained(ATTRS, image_size=32)
    assert not editor.generator.training
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    one = editor.edit(x[:1], ["Male"], labels=torch.zeros(1, 3))
    both = editor.edit(x, ["Male"], labels=torch.zeros(2, 3))
    assert torch.allclose(one, both[:1], atol=1e-5)  # no batch or running statistics


def test_baseline_editor_rejects_the_wrong_checkpoint(tmp_path):
    with pytest.raises(InfoscrubError, match="does not exist"):
        StarGANEditor.load(tmp_path / "none.pt")


def test_the_benchmarks_stargan_reference_runs_one_iteration():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from stargan_reference import stargan_step_components

    step = stargan_step_components("cpu", batch_size=2, image_size=64, conv_dim=4)
    assert step.task.cfg.optim.lr_g == step.task.cfg.optim.lr_d == 1e-4
    d_only = step(with_g=False)
    assert "g_loss" not in d_only and float(d_only["d_loss_gp"]) >= 0
    full = step(with_g=True)
    assert float(full["g_loss_rec"]) > 0


@pytest.mark.slow
def test_stargan_two_process_torchrun_on_cpu(tmp_path, data_root):
    import os
    import socket
    import subprocess
    import sys


    def free_port() -> int:  # --master_port=0 hangs where the host name does not resolve
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in range(2):  # a second try only if another process took the port meanwhile
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", "-m", "infoscrub.cli", "train", "stargan", "--data", str(data_root),
               "--out", str(out / str(attempt)), "--steps", "5", *STARGAN_TINY]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        if result.returncode == 0 or "address already in use" not in result.stderr.lower():
            break
    out = out / str(attempt)
    assert result.returncode == 0, (result.stdout[-1000:], result.stderr[-2000:])
    assert "world 2" in result.stdout
    assert [m["step"] for m in read_metrics(out)] == [1, 2, 3, 4, 5]
    assert read_metrics(out)[4]["g_loss_rec"] > 0  # the G step ran (and its gradients were averaged)
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 5
