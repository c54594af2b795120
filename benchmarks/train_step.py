"""Benchmark: the Stage I training step before and after the cost work, and against one
official StarGAN iteration, on the same device in one run.

"before": the former default sizes (G width 64 / 512 channels / 4 skips, 27.3M; D up to 512
channels, 11.2M; mixer width 64) run by the former step (two decodes, four discriminator
passes at batch B; on CUDA channels_last everywhere, the generator included), rebuilt here
from the same networks and losses. "after": today's defaults and step (one decode of the
paired features, two discriminator passes at 2B, channels_last only for the discriminator).
Prints GFLOP per image (``torch.utils.flop_counter``, Stage I and Stage II), median ms per
step, images/s and the ratios. StarGAN's iteration is one D step plus a G step every
n_critic (5) iterations, measured over whole n_critic cycles.

    .venv/bin/python benchmarks/train_step.py --device cuda --batch-size 128 --bf16 --channels-last
    .venv/bin/python benchmarks/train_step.py --device cuda --bf16 --channels-last --batch-sizes 64,128,256
    .venv/bin/python benchmarks/train_step.py --device cpu --image-size 64 --batch-size 32   # the CPU round

On the CPU it times the CPU round's model (``CPU_PROFILE``) in fp32, under bf16 autocast,
with oneDNN's bf16 convolutions on fp32 tensors, and compiled (inductor), Stage I and
Stage II side by side, with the compile time of the compiled rows.

SPEC §6 reference (H200, torch 2.11, fp32): StarGAN batch 16 = 29.8 ms (537 images/s);
batch 128 = 91.5 ms (1,400 images/s).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

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
from infoscrub.models import count_parameters
from infoscrub.rounds.round import CPU_PROFILE
from infoscrub.training.config import RunConfig
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext
from infoscrub.training.stage1 import Stage1Config, Stage1Task, edit_code, sample_inversion_masks
from infoscrub.training.stage2 import Stage2Config, Stage2Task
from stargan_reference import stargan_step_components  # beside this script

BEFORE = ["generator.width=64", "generator.max_channels=512", "generator.skips=4",
          "discriminator.max_channels=512"]


def timed(fn: Callable[[], object], iters: int, warmup: int, device: torch.device, per_call: int = 1) -> float:
    """Median milliseconds of ``fn`` (which runs ``per_call`` iterations) per iteration."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1000 / per_call)
    return statistics.median(samples)


# The CPU round's model (stage1.* settings of the profile, not its run control).
CPU_MODEL = [o.removeprefix("stage1.") for o in CPU_PROFILE
             if o.startswith("stage1.") and not o.startswith(("stage1.run.", "stage1.data."))]
IMAGE_SIZE = 128  # set from --image-size in main()


def make_task(args: argparse.Namespace, device: torch.device, batch: int, overrides: list[str],
              bf16_cpu: bool = False, compile: bool | None = None) -> Stage1Task:
    cfg = apply_overrides(Stage1Config(), overrides)
    cfg.run = RunConfig(batch_size=batch, device=str(device), bf16=args.bf16, channels_last=args.channels_last,
                        compile=args.compile if compile is None else compile, bf16_cpu=bf16_cpu, progress=False)
    torch.manual_seed(0)
    return Stage1Task(cfg, TrainContext(device, DistInfo(), cfg.run, cfg.data.attributes, "celebahq", IMAGE_SIZE))


def random_batch(device: torch.device, batch: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen, device=device) * 2 - 1
    labels = (torch.rand(batch, n, generator=gen, device=device) < 0.5).float()
    return x, labels, gen


def former_step(task: Stage1Task, x: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> None:
    """The Stage I step as it was: two decodes, four discriminator passes at batch B."""
    cfg, w, G = task.cfg, task.cfg.loss, task.G
    mask = sample_inversion_masks(labels, cfg.extra_flip_prob, gen)
    with task.ctx.autocast():
        feats, code = G.encode(x)
        x_rec = G.decode(x, feats, code)
        x_fake = G.decode(x, feats, edit_code(code, labels, mask))
        real_logits, cls_real = task.D(x)
        fake_logits, cls_fake = task.D(x_fake.detach())
        d_loss = w.adv * hinge_d_loss(real_logits, fake_logits) + w.bi * (
            attribute_loss_d_real(cls_real, labels) + attribute_loss_d_fake(cls_fake, labels, mask, cfg.variant))
    task.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    task.opt_d.step()
    task.D.requires_grad_(False)
    with task.ctx.autocast():
        fake_logits, cls_fake = task.D(x_fake)
        _, cls_rec = task.D(x_rec)
        feats_fake, code_fake = G.encode(x_fake)
        x_cycle = G.decode(x_fake, feats_fake, edit_code(code_fake, 1.0 - labels, mask))
        g_loss = (w.rec * reconstruction_loss(x, x_rec) + w.code * code_loss(code, labels)
                  + w.bi * attribute_loss_g(cls_fake, labels, mask, cfg.variant) + w.adv * hinge_g_loss(fake_logits)
                  + w.cont * content_hinge_loss(x_fake, x, w.eps_cont) + w.cycle * reconstruction_loss(x, x_cycle)
                  + w.util * utility_loss(cls_fake, cls_rec, labels, mask, w.eps_s, w.eps_r))
    task.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    task.opt_g.step()
    task.D.requires_grad_(True)


def former(args: argparse.Namespace, device: torch.device, batch: int) -> tuple[Stage1Task, Callable[[], None]]:
    task = make_task(args, device, batch, BEFORE)
    x, labels, gen = random_batch(device, batch, len(task.ctx.attributes))
    if task.ctx.channels_last:  # the former default: every network and the batch channels_last
        task.G.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return task, lambda: former_step(task, x, labels, gen)


def current(args: argparse.Namespace, device: torch.device, batch: int, overrides: list[str] | None = None,
            **run: bool) -> tuple[Stage1Task, Callable[[], object]]:
    task = make_task(args, device, batch, list(overrides or []), **run)
    x, labels, gen = random_batch(device, batch, len(task.ctx.attributes))
    step = iter(range(10**9))
    return task, lambda: task.train_step(x, labels, next(step), gen)


def stage2_step(args: argparse.Namespace, device: torch.device, batch: int, stage1: Stage1Task,
                mixer: list[str] | None = None) -> Callable[[], object]:
    cfg = apply_overrides(Stage2Config(), list(mixer or []))
    cfg.run = RunConfig(batch_size=batch, device=str(device), bf16=args.bf16, channels_last=args.channels_last,
                        compile=stage1.ctx.run.compile, bf16_cpu=stage1.ctx.run.bf16_cpu, progress=False)
    cfg.variant, cfg.generator, cfg.discriminator = stage1.cfg.variant, stage1.cfg.generator, stage1.cfg.discriminator
    frozen = {"models": {"generator": stage1.G_ema.state_dict(), "discriminator": stage1.D.state_dict()}}
    task = Stage2Task(cfg, TrainContext(device, DistInfo(), cfg.run, stage1.ctx.attributes, "celebahq", IMAGE_SIZE),
                      frozen)
    x, labels, gen = random_batch(device, batch, len(stage1.ctx.attributes))
    step = iter(range(10**9))
    return lambda: task.train_step(x, labels, next(step), gen)


def gflop_per_image(fn: Callable[[], object], batch: int) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / batch / 1e9


def first_call_seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_precisions(args: argparse.Namespace, device: torch.device, batch: int) -> None:
    """The CPU round's model: fp32, bf16 autocast, oneDNN bf16 convolutions on fp32
    tensors, and compiled variants; Stage I and Stage II; images/s side by side."""
    from infoscrub.training.loop import cpu_has_native_bf16

    mixer = [o.removeprefix("stage2.") for o in CPU_PROFILE if o.startswith("stage2.mixer.")]
    print(f"CPU round model ({' '.join(CPU_MODEL)}), {IMAGE_SIZE} px, batch {batch}, native bf16: "
          f"{cpu_has_native_bf16()}", flush=True)
    variants = [("fp32", {}, None), ("bf16 autocast", {"bf16_cpu": True}, None),
                ("fp32 + oneDNN bf16 conv", {}, "bf16")]
    if args.compile or args.cpu_compile:
        variants += [("fp32 compiled", {"compile": True}, None), ("bf16 compiled", {"bf16_cpu": True, "compile": True}, None)]
    base: dict[str, float] = {}
    for name, run, conv_precision in variants:
        previous = torch.backends.mkldnn.conv.fp32_precision
        if conv_precision is not None:
            torch.backends.mkldnn.conv.fp32_precision = conv_precision
        try:
            torch._dynamo.reset()
            task, fn = current(args, device, batch, CPU_MODEL, **run)
            s2 = stage2_step(args, device, batch, task, mixer)
            warm = f", first steps {first_call_seconds(fn) + first_call_seconds(s2):.0f} s" if run.get("compile") else ""
            ms1 = timed(fn, args.iters, args.warmup, device)
            ms2 = timed(s2, args.iters, args.warmup, device)
        finally:
            torch.backends.mkldnn.conv.fp32_precision = previous
        base.setdefault("s1", ms1)
        base.setdefault("s2", ms2)
        print(f"{name:24s} Stage I {batch * 1000 / ms1:7.1f} images/s ({base['s1'] / ms1:.2f}x fp32) | "
              f"Stage II {batch * 1000 / ms2:7.1f} images/s ({base['s2'] / ms2:.2f}x){warm}", flush=True)
        del task, fn, s2


def main() -> None:
    global IMAGE_SIZE
    parser = argparse.ArgumentParser(description="Stage I step before/after and vs StarGAN")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--image-size", type=int, default=128, help="image size (64: the CPU round's)")
    parser.add_argument("--cpu-compile", action="store_true", help="CPU: also time the compiled step (slow to build)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batch-sizes", default="", help="also time today's step at these batch sizes")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA) for all")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile today's step")
    parser.add_argument("--no-before", action="store_true", help="skip the former step")
    parser.add_argument("--no-stargan", action="store_true", help="skip StarGAN")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    IMAGE_SIZE = args.image_size
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    b = args.batch_size
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}), batch {b}, bf16 {args.bf16}, channels_last {args.channels_last}, "
          f"compile {args.compile}, torch {torch.__version__}", flush=True)
    if device.type == "cpu":
        cpu_precisions(args, device, b)
        if args.no_before and args.no_stargan:
            return

    flop_batch = 2  # FLOPs per image do not depend on the batch
    before_task, before_fn = former(args, torch.device("cpu"), flop_batch)
    after_task, after_fn = current(args, torch.device("cpu"), flop_batch)
    g_before, g_after = gflop_per_image(before_fn, flop_batch), gflop_per_image(after_fn, flop_batch)
    g_stage2 = gflop_per_image(stage2_step(args, torch.device("cpu"), flop_batch, after_task), flop_batch)
    print(f"GFLOP per image: Stage I before {g_before:.1f} (G {count_parameters(before_task.G) / 1e6:.1f}M, "
          f"D {count_parameters(before_task.D) / 1e6:.1f}M), after {g_after:.1f} "
          f"(G {count_parameters(after_task.G) / 1e6:.1f}M, D {count_parameters(after_task.D) / 1e6:.1f}M): "
          f"{g_after / g_before:.2f}x; Stage II step {g_stage2:.1f}", flush=True)
    del before_task, after_task, before_fn, after_fn

    rows = []
    if not args.no_before:
        task, fn = former(args, device, b)
        ms = timed(fn, args.iters, args.warmup, device)
        rows.append(("before", b, ms))
        print(f"Stage I before: {ms:9.1f} ms/step {b * 1000 / ms:8.1f} images/s", flush=True)
        del task, fn
    task, fn = current(args, device, b)
    ms_after = timed(fn, args.iters, args.warmup, device)
    rows.append(("after", b, ms_after))
    speedup = f" ({rows[0][2] / ms_after:.2f}x the former step)" if len(rows) == 2 else ""
    print(f"Stage I after:  {ms_after:9.1f} ms/step {b * 1000 / ms_after:8.1f} images/s{speedup}", flush=True)
    s2_ms = timed(stage2_step(args, device, b, task), args.iters, args.warmup, device)
    print(f"Stage II:       {s2_ms:9.1f} ms/step {b * 1000 / s2_ms:8.1f} images/s", flush=True)
    del task, fn
    for other in [int(v) for v in args.batch_sizes.split(",") if v]:
        task, fn = current(args, device, other)
        ms = timed(fn, args.iters, args.warmup, device)
        print(f"Stage I after at batch {other:4d}: {ms:9.1f} ms/step {other * 1000 / ms:8.1f} images/s", flush=True)
        del task, fn
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if not args.no_stargan:
        star = stargan_step_components(device, b, bf16=args.bf16, channels_last=args.channels_last)
        n_critic = star.task.cfg.n_critic

        def cycle() -> None:  # n_critic iterations: D only, ..., D + G
            for i in range(n_critic):
                star(with_g=i == n_critic - 1)

        star_ms = timed(cycle, max(1, args.iters // n_critic), max(1, args.warmup // n_critic), device, n_critic)
        g, d = star.task.networks()["generator"], star.task.networks()["discriminator"]
        print(f"StarGAN (G {count_parameters(g) / 1e6:.1f}M, D {count_parameters(d) / 1e6:.1f}M): "
              f"{star_ms:9.1f} ms/iteration {b * 1000 / star_ms:8.1f} images/s", flush=True)
        print(f"ratio (ours after / StarGAN images/s): {star_ms / ms_after:.2f}")


if __name__ == "__main__":
    main()
