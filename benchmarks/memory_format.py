"""Benchmark: NCHW vs channels_last for each network, layout copies and time per pass.

The generator and the mixer use instance norm, which works on NCHW: in channels_last every
instance-norm layer converts the layout there and back. The discriminator has no norm
layers. This script counts the layout copies (``aten::contiguous``/``copy_``/``clone``/
``_to_copy`` calls in a profiler trace of one forward + backward) and times both layouts,
which is how ``TrainContext.prepare`` chose channels_last for networks without instance
norm only. On a GPU, run it with ``--device cuda --bf16`` to confirm the choice there.

    .venv/bin/python benchmarks/memory_format.py --device cpu --batch-size 8
    python benchmarks/memory_format.py --device cuda --bf16 --batch-size 128
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

from infoscrub.models import Discriminator, GeneratorConfig, ObfuscationMixer, UNetEditor
from infoscrub.models.discriminator import DiscriminatorConfig

COPIES = ("aten::contiguous", "aten::copy_", "aten::clone", "aten::_to_copy")


def networks(n: int) -> dict[str, tuple[torch.nn.Module, int]]:
    """name -> (network, number of image inputs)."""
    g = UNetEditor(n, GeneratorConfig(identity_init=False))
    return {"generator (instance norm)": (g, 1), "mixer (instance norm)": (ObfuscationMixer(n), 2),
            "discriminator (no norm)": (Discriminator(n, 2, 128, DiscriminatorConfig()), 1)}


def one_pass(net: torch.nn.Module, inputs: int, x: torch.Tensor, code: torch.Tensor, autocast) -> None:
    with autocast():
        out = net(x, x, code, code) if inputs == 2 else net(x)
    out = out[0] if isinstance(out, tuple) else out
    out.float().mean().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description="NCHW vs channels_last per network")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--iters", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])

    def autocast():
        if args.bf16 and device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    print(f"device {device}, batch {args.batch_size}, bf16 {args.bf16}, torch {torch.__version__}")
    n = 10
    for name, (net, inputs) in networks(n).items():
        times = {}
        for channels_last in (False, True):
            torch.manual_seed(0)
            model = net.to(device)
            x = torch.rand(args.batch_size, 3, 128, 128, device=device) * 2 - 1
            code = torch.rand(args.batch_size, n, device=device)
            model = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for _ in range(2):
                one_pass(model, inputs, x, code, autocast)
            sync()
            samples = []
            for _ in range(args.iters):
                start = time.perf_counter()
                one_pass(model, inputs, x, code, autocast)
                sync()
                samples.append((time.perf_counter() - start) * 1000)
            with profile(activities=activities) as prof:
                one_pass(model, inputs, x, code, autocast)
                sync()
            copies = sum(e.count for e in prof.key_averages() if e.key in COPIES)
            times[channels_last] = statistics.median(samples)
            print(f"{name:28s} {'channels_last' if channels_last else 'NCHW':13s} "
                  f"{times[channels_last]:9.1f} ms per forward+backward, {copies:4d} layout copies")
        print(f"{'':28s} channels_last / NCHW time: {times[True] / times[False]:.2f}")


if __name__ == "__main__":
    main()
