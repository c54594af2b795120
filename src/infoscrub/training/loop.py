"""The training loop every trainer shares: device, data, schedule, logs, samples, resume.

A trainer (``TrainingTask``) owns its networks and optimisers and does one step; this loop
does everything around it. Losses stay on the device between logs (no per-step host
sync); batches come from ``DeviceBatches``, a pure function of the step, so a resumed run
continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import nn

from infoscrub.attributes import resolve_attributes
from infoscrub.config import config_to_dict
from infoscrub.data.batches import DeviceBatches, seeded_generator
from infoscrub.data.imageset import ImageSet, load_image_set
from infoscrub.errors import InfoscrubError
from infoscrub.storage.checkpoints import (
    load_checkpoint,
    load_module_state,
    restore_rng,
    save_checkpoint,
)
from infoscrub.training.config import SCHEDULES, DataConfig, OptimConfig, RunConfig
from infoscrub.training.distributed import DistInfo, all_reduce_mean, barrier, init_distributed

CHECKPOINT = "checkpoint.pt"
DIVERGED = "checkpoint.diverged.pt"  # written beside the last good checkpoint, never over it


@dataclass
class TrainContext:
    device: torch.device
    dist: DistInfo
    run: RunConfig
    attributes: list[str]
    alignment: str
    image_size: int
    # Images seen by all ranks before the current step, over every run and round of this
    # model (the clock of the learning-rate schedule and of G_ema's ramp-up). The loop
    # advances it; a compact state restores it.
    images_seen: int = 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def channels_last(self) -> bool:
        return self.cuda and self.run.channels_last

    @property
    def bf16(self) -> bool:
        """Whether steps run under bf16 autocast (CUDA, or a CPU with native bf16)."""
        if self.cuda:
            return self.run.bf16
        return self.run.bf16_cpu and cpu_has_native_bf16()

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, module: nn.Module) -> nn.Module:
        """Move to the device; the same plain module is returned.

        channels_last (on CUDA, when the run asks) only for networks without instance
        norm: instance norm works on NCHW, so every one of its layers would convert the
        layout there and back (``benchmarks/memory_format.py`` on the CPU: the generator's
        forward + backward went from 145 to 349 layout copies and ran 5% slower; the GPU
        must confirm). Batches stay NCHW; a channels_last network converts its input once,
        in its first convolution."""
        module = module.to(self.device)
        if self.channels_last and not uses_instance_norm(module):
            module = module.to(memory_format=torch.channels_last)
        return module

    def compiled(self, fn: Callable) -> Callable:
        """``torch.compile`` a module or a bound method (e.g. ``G.encode``) when the run asks.

        Compiling a module covers only its ``forward``; the trainers compile exactly the
        callables a step runs, so nothing of the step is left out."""
        return torch.compile(fn, backend=self.run.compile_backend) if self.run.compile else fn


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (avx512_bf16 or AMX) and oneDNN can use it;
    elsewhere bf16 is emulated and slower than fp32, so the CPU stays in fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    return native and torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def uses_instance_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in module.modules())


class TrainingTask(Protocol):
    kind: str

    def networks(self) -> dict[str, nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def schedule(self, step: int, progress: float, images_since_restart: int | None) -> float:
        """Set this step's learning rates (each task owns its schedule); return the factor
        applied to the peak rates, for the log."""
    def train_step(self, x: torch.Tensor, labels: torch.Tensor, step: int,
                   gen: torch.Generator) -> dict[str, torch.Tensor]: ...
    def sample_grid(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InfoscrubError(f"device {name} requested but CUDA is not available")
    return device


def lr_factor(progress: float, images_since_restart: int | None, optim: OptimConfig) -> float:
    """Learning-rate factor of a step.

    ``progress`` in [0, 1] is how far the run is (its images seen over its planned images,
    or a timed round's elapsed share of its seconds): with ``optim.schedule == "linear"``
    the rate falls linearly to 0 after ``optim.decay_start``; "constant" never decays.
    ``images_since_restart`` counts images since fresh optimisers started on trained
    weights (None on a fresh run): the rate warms up linearly over
    ``optim.restart_warmup_images`` so Adam's moments are rebuilt before full steps.
    """
    if optim.schedule not in SCHEDULES:
        raise InfoscrubError(f"unknown optim.schedule {optim.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    factor = 1.0
    if optim.schedule == "linear" and progress > optim.decay_start:
        factor = max(0.0, (1.0 - progress) / max(1e-12, 1.0 - optim.decay_start))
    if images_since_restart is not None and optim.restart_warmup_images > 0:
        factor *= min(1.0, (images_since_restart + 1) / optim.restart_warmup_images)
    return factor


def set_learning_rates(optimizers: dict[str, torch.optim.Optimizer], factor: float) -> None:
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * factor


def adam_schedule(optimizers: dict[str, torch.optim.Optimizer], optim: OptimConfig, progress: float,
                  images_since_restart: int | None) -> float:
    """The GAN trainers' schedule (``lr_factor``) applied to their Adam optimisers."""
    factor = lr_factor(progress, images_since_restart, optim)
    set_learning_rates(optimizers, factor)
    return factor


def make_adam(params, lr: float, optim: OptimConfig) -> torch.optim.Adam:
    opt = torch.optim.Adam(params, lr=lr, betas=(optim.beta1, optim.beta2))
    for group in opt.param_groups:
        group["initial_lr"] = lr
    return opt


def load_training_data(data: DataConfig, device: torch.device) -> ImageSet:
    if not data.path:
        raise InfoscrubError("no training data given; pass --data ROOT_OR_SHARDS")
    images = load_image_set(data.path, data.split, data.image_size, data.alignment, limit=data.limit)
    return images.to(device)


class MetricLog:
    """Running sums of the step losses on the device; flushed to JSONL every log_every steps."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}  # per key: not every step reports every loss
        self.t0, self.images = time.perf_counter(), 0

    def add(self, losses: dict[str, torch.Tensor], batch: int) -> None:
        for key, value in losses.items():
            value = value.detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1
        self.images += batch

    def nonfinite(self) -> list[str]:
        """Keys whose running sums are not finite (one host sync; called before a checkpoint
        so a diverged state never replaces a good one, even between log steps)."""
        if not self.sums:
            return []
        keys = sorted(self.sums)
        ok = torch.isfinite(torch.stack([self.sums[k].float() for k in keys])).tolist()
        return [k for k, good in zip(keys, ok) if not good]

    def flush(self, step: int, info: DistInfo, lr_factor: float, images_seen: int) -> dict[str, float]:
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        means = {k: float(v) for k, v in all_reduce_mean(means, info).items()}  # one host sync
        elapsed = time.perf_counter() - self.t0
        record = {"step": step, "images_seen": images_seen, "lr_factor": round(lr_factor, 6),
                  "images_per_s": round(self.images * info.world_size / max(elapsed, 1e-9), 1), **means}
        if self.path is not None and info.is_main:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        self.sums, self.counts, self.images, self.t0 = {}, {}, 0, time.perf_counter()
        return record


def save_run_state(task: TrainingTask, ctx: TrainContext, config: dict[str, Any], out: Path, step: int,
                   name: str = CHECKPOINT) -> None:
    if ctx.dist.is_main:
        save_checkpoint(out / name, kind=task.kind, config=config, attributes=ctx.attributes,
                        alignment=ctx.alignment, image_size=ctx.image_size, step=step,
                        models=task.networks(), optimizers=task.optimizers(),
                        extra={"images_seen": ctx.images_seen})
    barrier(ctx.dist)


def clean_interrupted_writes(out: Path) -> list[Path]:
    """Remove temp files a killed atomic write left behind (``.NAME.*.tmp``)."""
    removed = []
    for tmp in out.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the log records of steps after ``step`` (written after the checkpoint the run
    resumes from), so a resumed run's log has each step once."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by the kill that stopped the run
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    tmp.replace(path)


def resume_state(task: TrainingTask, ctx: TrainContext, config: dict[str, Any], out: Path) -> int:
    """Load the run's checkpoint into ``task``; the model-defining config must match."""
    state = load_checkpoint(out / CHECKPOINT, task.kind)  # CPU: RNG states must stay there
    saved = {k: v for k, v in state["config"].items() if k != "run"}
    current = {k: v for k, v in config.items() if k != "run"}
    if saved != current:
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        raise InfoscrubError(f"cannot resume {out}: its config differs in {', '.join(changed)} "
                             "(only run.* settings may change on resume)")
    for name, net in task.networks().items():
        load_module_state(net, state["models"][name], name)
    for name, opt in task.optimizers().items():
        opt.load_state_dict(state["optimizers"][name])
    restore_rng(state["rng"])
    step = int(state["step"])
    ctx.images_seen = int(state.get("extra", {}).get("images_seen", step * ctx.run.batch_size * ctx.dist.world_size))
    if ctx.dist.is_main:
        truncate_metrics(out / "metrics.jsonl", step)
    return step


def fit(task: TrainingTask, ctx: TrainContext, data: ImageSet, cfg: Any, out: Path, resume: bool = False, *,
        seconds: float | None = None, restarted: bool = False,
        report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, float]:
    """Run ``task`` from its current step to ``ctx.run.steps``; returns the last log record.

    ``cfg`` is the task's typed config (saved with the run and every checkpoint; its
    ``data.hflip`` sets the flips); labels are those of ``ctx.attributes``.

    ``seconds``: stop once this much wall-clock time has passed (a timed round); the
    schedule's progress is then the elapsed share of it. ``restarted``: the task's weights
    are trained but its optimisers are fresh (a compact state), so learning rates warm up.
    ``report`` receives every log record (with elapsed and remaining seconds).
    """
    run = ctx.run
    config = config_to_dict(cfg)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    if ctx.dist.is_main:
        clean_interrupted_writes(out)
    if resume:
        start = resume_state(task, ctx, config, out)
    else:
        if ckpt.exists():
            raise InfoscrubError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        start = 0
    if ctx.dist.is_main:
        (out / "config.json").write_text(json.dumps(config, indent=2))
        (out / "samples").mkdir(exist_ok=True)
    labels = data.targets(ctx.attributes)
    batches = DeviceBatches(data.images, labels, run.batch_size, run.seed, ctx.dist.rank,
                            ctx.dist.world_size, hflip=cfg.data.hflip)
    # A fixed batch for sample grids: the first images of the split, same in every run.
    sample_x = batches.images[:8].float().div(127.5).sub(1.0)
    sample_y = labels[:8]
    log = MetricLog(out / "metrics.jsonl")
    progress = None
    if run.progress and ctx.dist.is_main:
        from tqdm import tqdm

        progress = tqdm(total=run.steps, initial=start, desc=task.kind, dynamic_ncols=True)
    record: dict[str, float] = {}
    global_batch = run.batch_size * ctx.dist.world_size
    planned_images = max(1, run.steps * global_batch)
    restart_images = ctx.images_seen if restarted else None
    def diverged(keys: list[str]) -> None:
        # Keep the last good checkpoint; the diverged state goes beside it.
        save_run_state(task, ctx, config, out, done, DIVERGED)
        raise InfoscrubError(f"training diverged by step {done}: {', '.join(keys)} not finite; "
                             f"{out / CHECKPOINT} keeps the last good state, {out / DIVERGED} the diverged one")

    t0 = time.perf_counter()
    done = start
    if seconds is not None and seconds <= 0:
        return record
    for step in range(start, run.steps):
        # The clock is read once per step, after it (below), so a timed run always ends
        # through a logged, checkpointed last step.
        elapsed = time.perf_counter() - t0
        run_share = min(1.0, elapsed / seconds) if seconds else step * global_batch / planned_images
        since = None if restart_images is None else ctx.images_seen - restart_images
        factor = task.schedule(step, run_share, since)
        x, y = batches.batch(step)
        gen = seeded_generator(ctx.device, run.seed, ctx.dist.rank, step, 3)
        losses = task.train_step(x, y, step, gen)
        ctx.images_seen += global_batch
        log.add(losses, len(x))
        done = step + 1
        timed_out = seconds is not None and time.perf_counter() - t0 >= seconds
        last = done == run.steps or timed_out
        if done % run.log_every == 0 or last:
            record = log.flush(done, ctx.dist, factor, ctx.images_seen)
            bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
            if bad:
                diverged(bad)
            if report is not None and ctx.dist.is_main:
                elapsed = time.perf_counter() - t0
                report({**record, "elapsed_s": round(elapsed, 1),
                        "remaining_s": None if seconds is None else round(max(0.0, seconds - elapsed), 1)})
            if progress is not None:
                progress.set_postfix({k: f"{v:.3g}" for k, v in record.items()
                                      if k not in ("step", "lr_factor", "images_seen")}, refresh=False)
        if ctx.dist.is_main and (done % run.sample_every == 0 or last):
            save_grid(task.sample_grid(sample_x, sample_y), out / "samples" / f"step_{done:07d}.png")
        if (run.checkpoint_every and done % run.checkpoint_every == 0) or last:
            bad = log.nonfinite()
            if bad:
                diverged(bad)
            save_run_state(task, ctx, config, out, done)
        if progress is not None:
            progress.update(1)
        if timed_out:
            break
    if progress is not None:
        progress.close()
    return record


def save_grid(grid: torch.Tensor, path: Path) -> None:
    """Save a uint8 (3, H, W) image grid as PNG (atomically)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(grid.permute(1, 2, 0).cpu().numpy()).save(tmp)
    tmp.replace(path)


def prepare_training(run: RunConfig, data_cfg: DataConfig) -> tuple[TrainContext, ImageSet]:
    """Join the process group, pick the device, load the split onto it (decoded once)."""
    attributes = resolve_attributes(data_cfg.attributes)
    data_cfg.attributes = attributes
    ctx = make_context(run, attributes)
    data = load_training_data(data_cfg, ctx.device)
    data_cfg.alignment = ctx.alignment = data.alignment
    ctx.image_size = data.size
    return ctx, data


def make_context(run: RunConfig, attributes: list[str], alignment: str = "celebahq",
                 image_size: int = 128) -> TrainContext:
    device = resolve_device(run.device)
    info = init_distributed(device.type)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    torch.manual_seed(run.seed)  # identical initial weights on every rank
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return TrainContext(device, info, run, attributes, alignment, image_size)
