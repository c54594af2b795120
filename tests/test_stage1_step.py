"""The Stage I step: batched passes give the unbatched losses; compiled steps match eager."""

import pytest
import torch

from infoscrub.config import apply_overrides
from infoscrub.losses import (
    attribute_loss_d_fake,
    attribute_loss_d_real,
    attribute_loss_g,
    code_loss,
    content_hinge_loss,
    hinge_d_loss,
    hinge_g_loss,
    reconstruction_loss,
    utility_loss,
)
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext, cpu_has_native_bf16
from infoscrub.training.stage1 import Stage1Config, Stage1Task, edit_code, sample_inversion_masks
from infoscrub.training.stage2 import Stage2Config, Stage2Task
from tiny import TINY_NETWORKS

TINY = TINY_NETWORKS + ["generator.identity_init=false", "run.device=cpu"]


def make_task(*extra: str, seed: int = 0) -> Stage1Task:
    cfg = apply_overrides(Stage1Config(), TINY + list(extra))
    torch.manual_seed(seed)
    ctx = TrainContext(torch.device("cpu"), DistInfo(), cfg.run, list(cfg.data.attributes), "celebahq", 32)
    return Stage1Task(cfg, ctx)


def batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1
    labels = (torch.rand(4, 3, generator=gen) < 0.5).float()
    mask = sample_inversion_masks(labels, 0.3, gen)
    return x, labels, mask


@pytest.mark.parametrize("skips", [0, 2, 4])
@pytest.mark.parametrize("variant", ["bidirectional", "d_attr_at"])
def test_batched_passes_give_the_unbatched_losses(skips, variant):
    task = make_task(f"generator.skips={skips}", f"variant={variant}")
    task.D.eval()  # spectral norm: no power iteration, so every pass sees the same weights
    G, D, w = task.G, task.D, task.cfg.loss
    x, labels, mask = batch()
    feats, code, x_rec, x_fake = task.generate(x, labels, mask)
    # reference: the two decodes and four discriminator passes of the unbatched step
    ref_rec = G.decode(x, feats, code)
    ref_fake = G.decode(x, feats, edit_code(code, labels, mask))
    torch.testing.assert_close(x_rec, ref_rec, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_fake, ref_fake, rtol=1e-5, atol=1e-5)

    d = task.d_losses(x, x_fake.detach(), labels, mask)
    real_logits, cls_real = D(x)
    fake_logits, cls_fake = D(x_fake.detach())
    torch.testing.assert_close(d["d_adv"], hinge_d_loss(real_logits, fake_logits))
    torch.testing.assert_close(d["d_cls_real"], attribute_loss_d_real(cls_real, labels))
    torch.testing.assert_close(d["d_cls_fake"], attribute_loss_d_fake(cls_fake, labels, mask, variant))

    g = task.g_losses(x, x_rec, x_fake, code, labels, mask)
    fake_logits, cls_fake = D(x_fake)
    _, cls_rec = D(x_rec)
    feats_fake, code_fake = G.encode(x_fake)
    x_cycle = G.decode(x_fake, feats_fake, edit_code(code_fake, 1.0 - labels, mask))
    reference = {
        "g_rec": reconstruction_loss(x, x_rec), "g_code": code_loss(code, labels),
        "g_bi": attribute_loss_g(cls_fake, labels, mask, variant), "g_adv": hinge_g_loss(fake_logits),
        "g_cont": content_hinge_loss(x_fake, x, w.eps_cont), "g_cycle": reconstruction_loss(x, x_cycle),
        "g_util": utility_loss(cls_fake, cls_rec, labels, mask, w.eps_s, w.eps_r),
    }
    assert set(g) == set(reference)
    for key, value in reference.items():
        torch.testing.assert_close(g[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_attribute_weights_reach_the_generators_attribute_loss():
    from tiny import ATTRIBUTES

    task = make_task(f"loss.bi_weights={ATTRIBUTES.split(',')[1]}:3")
    assert task.bi_weights.tolist() == [1.0, 3.0, 1.0]
    task.D.eval()  # spectral norm: every pass sees the same weights
    x, labels, mask = batch()
    _, code, x_rec, x_fake = task.generate(x, labels, mask)
    g = task.g_losses(x, x_rec, x_fake, code, labels, mask)
    _, cls_fake = task.D_run(x_fake)
    expected = attribute_loss_g(cls_fake, labels, mask, "bidirectional", torch.tensor([1.0, 3.0, 1.0]))
    torch.testing.assert_close(g["g_bi"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="not one of the run's attributes"):
        make_task("loss.bi_weights=Bald:2")


def test_restart_runs_discriminator_only_steps_first():
    task = make_task("restart_d_steps=2")
    task.restart(True)
    before = [p.detach().clone() for p in task.G.parameters()]
    x, labels, _ = batch()
    for step in range(2):
        losses = task.train_step(x, labels, step, torch.Generator().manual_seed(step))
        assert "g_loss" not in losses and "d_loss" in losses
    assert all(torch.equal(a, b) for a, b in zip(before, task.G.parameters()))
    assert "g_loss" in task.train_step(x, labels, 2, torch.Generator().manual_seed(2))
    assert not all(torch.equal(a, b) for a, b in zip(before, task.G.parameters()))


def test_ema_generator_follows_the_trained_one():
    task = make_task()
    x, labels, _ = batch()
    task.ctx.images_seen = 10**6  # past the ramp-up: a long memory
    start = [p.detach().clone() for p in task.G_ema.parameters()]
    task.train_step(x, labels, 0, torch.Generator().manual_seed(0))
    moved_g = sum(float((a - b.detach()).abs().sum()) for a, b in zip(start, task.G.parameters()))
    moved_ema = sum(float((a - b).abs().sum()) for a, b in zip(start, task.G_ema.parameters()))
    assert 0 < moved_ema < 0.1 * moved_g
    assert not any(p.requires_grad for p in task.G_ema.parameters())


def _dynamo_counters():
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    return torch._dynamo.utils.counters


@pytest.mark.slow
def test_compiled_stage1_steps_match_eager_and_cover_encode_decode():
    counters = _dynamo_counters()
    eager = make_task()
    compiled = make_task("run.compile=true", "run.compile_backend=aot_eager")
    for fn in (compiled.encode, compiled.decode, compiled.D_run):
        assert fn is not None and (hasattr(fn, "_torchdynamo_orig_callable") or hasattr(fn, "_orig_mod"))
    x, labels, _ = batch()
    for step in range(3):
        a = eager.train_step(x, labels, step, torch.Generator().manual_seed(step))
        b = compiled.train_step(x, labels, step, torch.Generator().manual_seed(step))
        for key in ("g_loss", "d_loss", "g_rec", "g_bi", "g_cycle", "d_cls_fake"):
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=f"{key} at step {step}")
    assert counters["stats"]["unique_graphs"] >= 3  # encode, decode and D at least
    assert not counters["graph_break"], dict(counters["graph_break"])


@pytest.mark.slow
def test_compiled_stage2_steps_match_eager():
    counters = _dynamo_counters()
    stage1 = make_task()
    frozen = {"models": {"generator": stage1.G_ema.state_dict(), "discriminator": stage1.D.state_dict()}}

    def stage2(*extra: str) -> Stage2Task:
        cfg = apply_overrides(Stage2Config(), ["mixer.width=8", "mixer.blocks=1", "run.device=cpu", *extra])
        cfg.variant, cfg.generator, cfg.discriminator = "bidirectional", stage1.cfg.generator, stage1.cfg.discriminator
        torch.manual_seed(0)
        ctx = TrainContext(torch.device("cpu"), DistInfo(), cfg.run, stage1.ctx.attributes, "celebahq", 32)
        return Stage2Task(cfg, ctx, frozen)

    eager, compiled = stage2(), stage2("run.compile=true", "run.compile_backend=aot_eager")
    x, labels, _ = batch()
    for step in range(3):
        a = eager.train_step(x, labels, step, torch.Generator().manual_seed(step))
        b = compiled.train_step(x, labels, step, torch.Generator().manual_seed(step))
        for key in ("loss", "adv", "entropy", "alpha_mean"):
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=f"{key} at step {step}")
    assert counters["stats"]["unique_graphs"] >= 3
    assert not counters["graph_break"], dict(counters["graph_break"])


def test_the_reshare_option_lets_gradients_through_the_channel():
    from infoscrub.sharing import CHANNELS

    task = make_task()
    task.D.eval()
    x, labels, mask = batch()
    feats, code, x_rec, x_fake = task.generate(x, labels, mask)
    plain = task.g_losses(x, x_rec, x_fake, code, labels, mask)
    shared = task.g_losses(x, x_rec, x_fake, code, labels, mask, CHANNELS["jpeg50"])
    assert not torch.equal(plain["g_bi"], shared["g_bi"])  # the heads judged the shared edit
    task.G.zero_grad()
    shared["g_bi"].backward()
    grads = [p.grad for p in task.G.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_training_with_reshare_runs_both_stages():
    task = make_task("reshare=jpeg75,down2")
    x, labels, _ = batch()
    for step in range(2):  # one channel per step, in turn
        losses = task.train_step(x, labels, step, torch.Generator().manual_seed(step))
        assert torch.isfinite(losses["g_bi"])
    frozen = {"models": {"generator": task.G_ema.state_dict(), "discriminator": task.D.state_dict()}}
    cfg = apply_overrides(Stage2Config(), ["mixer.width=8", "mixer.blocks=1", "run.device=cpu", "reshare=jpeg75"])
    cfg.variant, cfg.generator, cfg.discriminator = "bidirectional", task.cfg.generator, task.cfg.discriminator
    ctx = TrainContext(torch.device("cpu"), DistInfo(), cfg.run, task.ctx.attributes, "celebahq", 32)
    stage2 = Stage2Task(cfg, ctx, frozen)
    assert torch.isfinite(stage2.train_step(x, labels, 0, torch.Generator().manual_seed(0))["entropy"])


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (the CPU round runs fp32)")
def test_bf16_and_fp32_steps_train_alike():
    """20 Stage I steps from the same seed in fp32 and under CPU bf16 autocast: the losses
    (reduced in fp32) agree to within 2% over the run (0.3% seen), and bf16 really ran."""
    def losses(bf16: bool) -> dict[str, float]:
        task = make_task(f"run.bf16_cpu={bf16}")
        assert task.ctx.bf16 is bf16
        gen = torch.Generator().manual_seed(1)
        sums: dict[str, float] = {}
        for step in range(20):
            x, labels, _ = batch(step)
            for k, v in task.train_step(x, labels, step, gen).items():
                assert v.dtype == torch.float32, k  # the reductions stay in fp32
                sums[k] = sums.get(k, 0.0) + float(v) / 20
        return sums

    fp32, bf16 = losses(False), losses(True)
    for key in ("d_loss", "g_loss", "g_rec", "g_bi", "d_cls_real"):
        assert abs(bf16[key] - fp32[key]) <= 0.02 * abs(fp32[key]) + 1e-3, (key, fp32[key], bf16[key])
    assert fp32 != bf16  # bf16 did change the arithmetic


def test_bf16_falls_back_to_fp32_without_native_support(monkeypatch):
    import infoscrub.training.loop as loop

    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: False)
    task = make_task("run.bf16_cpu=true")
    assert task.ctx.bf16 is False
