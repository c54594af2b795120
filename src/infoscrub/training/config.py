"""Config sections shared by every trainer (data, optimiser schedule, run control)."""

from __future__ import annotations

from dataclasses import dataclass, field

from infoscrub.attributes import DEFAULT_ATTRIBUTES


@dataclass
class DataConfig:
    path: str = ""  # CelebA-format folder or a folder of packed shards
    split: str = "train"
    attributes: list[str] = field(default_factory=lambda: list(DEFAULT_ATTRIBUTES))
    image_size: int = 128
    alignment: str | None = None  # None: from the folder layout / shard manifest
    limit: int | None = None  # use only the first N images (smoke runs)
    hflip: bool = True


SCHEDULES = ("constant", "linear")


@dataclass
class OptimConfig:
    lr_g: float = 1e-4
    lr_d: float = 4e-4  # TTUR: the discriminator learns faster than the generator
    beta1: float = 0.5
    beta2: float = 0.999
    # Learning rates follow the images seen, not the step count, so a run cut into windows
    # (or resumed at another batch size) keeps its schedule. "constant" never decays;
    # "linear" falls linearly to 0 over the part of the run after decay_start (a fraction
    # of the run's images, or of a timed round's seconds): ask for it on a final run only.
    schedule: str = "constant"  # constant | linear
    decay_start: float = 0.5
    # After fresh optimisers start on trained weights (a compact state): linear warm-up.
    restart_warmup_images: int = 20_000


@dataclass
class RunConfig:
    steps: int = 300_000
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bf16: bool = True  # bf16 autocast on CUDA (ignored on the CPU)
    # bf16 autocast on a CPU that computes bf16 natively (avx512_bf16 / AMX; fp32 elsewhere).
    # Off by default: the CPU round turns it on (benchmarks/train_step.py measures the gain).
    bf16_cpu: bool = False
    channels_last: bool = True  # on CUDA, for networks without instance norm (see TrainContext.prepare)
    compile: bool = False  # torch.compile what a step runs (networks, G.encode / G.decode)
    compile_backend: str = "inductor"  # torch.compile backend (aot_eager: trace only, for tests)
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 2000
    progress: bool = True
