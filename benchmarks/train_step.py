"""Benchmark: one Stage I training step vs one official StarGAN iteration, same device/run.

StarGAN's iteration is one D step plus a G step every n_critic (5) iterations; its mean cost
is measured over whole n_critic cycles. Ours is one D step plus one G step. Prints median
ms per iteration, images/s and the ratio (ours / StarGAN images/s).

    .venv/bin/python benchmarks/train_step.py --device cuda --batch-size 128 --bf16 --channels-last
    .venv/bin/python benchmarks/train_step.py --device cpu --batch-size 4 --iters 3   # smoke run

SPEC §6 reference (H200, torch 2.11, fp32): StarGAN batch 16 = 29.8 ms (537 images/s);
batch 128 = 91.5 ms (1,400 images/s).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from infoscrub.baselines.stargan import stargan_step_components
from infoscrub.models import count_parameters
from infoscrub.training.config import RunConfig
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext
from infoscrub.training.stage1 import Stage1Config, Stage1Task


def timed(fn, iters: int, warmup: int, device: torch.device, per_call: int = 1) -> float:
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


def our_step(args: argparse.Namespace, device: torch.device):
    cfg = Stage1Config()
    cfg.generator.width = args.width
    cfg.discriminator.width = args.width
    cfg.run = RunConfig(batch_size=args.batch_size, device=str(device), bf16=args.bf16,
                        channels_last=args.channels_last, compile=args.compile, progress=False)
    torch.manual_seed(0)
    ctx = TrainContext(device, DistInfo(), cfg.run, cfg.data.attributes, "celebahq", 128)
    task = Stage1Task(cfg, ctx)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(args.batch_size, 3, 128, 128, generator=gen, device=device) * 2 - 1
    if device.type == "cuda" and args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    labels = (torch.rand(args.batch_size, len(cfg.data.attributes), generator=gen, device=device) < 0.5).float()
    step = iter(range(10**9))
    return task, lambda: task.train_step(x, labels, next(step), gen)


def main() -> None:
    parser = argparse.ArgumentParser(description="Stage I step vs StarGAN iteration timing")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=64, help="our G/D base width (default 64)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA) for both")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile ours")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    task, ours = our_step(args, device)
    ours_ms = timed(ours, args.iters, args.warmup, device)
    del task, ours

    star = stargan_step_components(device, args.batch_size, bf16=args.bf16, channels_last=args.channels_last)
    n_critic = star.task.cfg.n_critic

    def cycle() -> None:  # n_critic iterations: D only, ..., D + G
        for i in range(n_critic):
            star(with_g=i == n_critic - 1)

    star_ms = timed(cycle, max(1, args.iters // n_critic), max(1, args.warmup // n_critic), device, n_critic)
    b = args.batch_size
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"batch {b}, bf16 {args.bf16}, channels_last {args.channels_last}, compile {args.compile}")
    g, d = star.task.networks()["generator"], star.task.networks()["discriminator"]
    print(f"StarGAN  (G {count_parameters(g) / 1e6:.1f}M, D {count_parameters(d) / 1e6:.1f}M): "
          f"{star_ms:8.1f} ms/iteration  {b * 1000 / star_ms:8.0f} images/s")
    print(f"InfoScrub stage1 (width {args.width}): {ours_ms:8.1f} ms/step       "
          f"{b * 1000 / ours_ms:8.0f} images/s")
    print(f"ratio (ours / StarGAN images/s): {star_ms / ours_ms:.2f}")


if __name__ == "__main__":
    main()
