"""One training round: what a lent GPU window runs, start to finish, in one command.

From the compact state (or from scratch): train Stage I for a share of a wall-clock
budget, Stage II for the rest, train the held-out adversary and the report attacker only
if the state lacks them, evaluate on the test split against the held-out ResNet-18 (never
the report attacker), and write the new compact state, ``metrics.json``, one sample grid
and the log into one output folder: at most 8 files, each under 16 MiB, nothing below it,
so the folder comes back whole from a device call. The compact state is also written
every ``export_every_seconds`` during Stage I and after it, so a round killed at its time
limit still returns its progress; the next round continues from whatever came back.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from infoscrub.config import apply_overrides, config_from_dict, config_to_dict
from infoscrub.data.imageset import ImageSet, load_image_set
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Attacker
from infoscrub.storage.weights import read_networks, save_weights
from infoscrub.models import MixerConfig, ObfuscationMixer, count_parameters
from infoscrub.rounds.measure import measure_round
from infoscrub.rounds.state import (
    ATTACKER,
    EDITOR,
    HELDOUT,
    METRICS,
    TRAINER,
    StatePaths,
    file_problems,
    read_trainer_state,
    state_problems,
    write_trainer_state,
)
from infoscrub.training.adversary import AdversaryTask, AdversaryTrainConfig
from infoscrub.storage.checkpoints import load_module_state
from infoscrub.training.config import RunConfig
from infoscrub.training.loop import TrainContext, fit, load_training_data, make_context
from infoscrub.training.stage1 import Stage1Config, Stage1Task
from infoscrub.training.stage2 import Stage2Config, Stage2Task

LOG = "round.log"
# Sections of the Stage I config that define the model: a state continues only with these
# unchanged (a changed architecture starts a new state).
MODEL_KEYS = ("variant", "generator", "discriminator")
MODEL_DATA_KEYS = ("attributes", "image_size")
UNTIMED = 10**12  # run.steps of timed phases: the clock stops them


def _timed_run(batch_size: int) -> RunConfig:
    return RunConfig(steps=UNTIMED, batch_size=batch_size, log_every=100, sample_every=UNTIMED,
                     checkpoint_every=0, progress=False)


def _stage1() -> Stage1Config:
    return Stage1Config(run=_timed_run(64))


def _stage2() -> Stage2Config:
    return Stage2Config(run=_timed_run(64))


def _adversary(width: int, steps: int) -> Callable[[], AdversaryTrainConfig]:
    def make() -> AdversaryTrainConfig:
        cfg = AdversaryTrainConfig()
        cfg.model.width = width
        cfg.run = RunConfig(steps=steps, batch_size=256, log_every=100, sample_every=UNTIMED,
                            checkpoint_every=0, progress=False)
        return cfg
    return make


@dataclass
class RoundConfig:
    seconds: float = 420.0  # wall-clock training time of the round, Stage I + Stage II
    stage2_share: float = 0.2  # ... of which Stage II gets this share
    export_every_seconds: float = 120.0  # compact state to the output folder during Stage I
    # With an end time (--until), training stops this long before it: what is left is for
    # the exports, the evaluation on the test split and the sample grid.
    finish_seconds: float = 300.0
    eval_batch_size: int = 256
    seed: int = 0  # a round's batches are seeded by seed + the state's round count
    stage1: Stage1Config = field(default_factory=_stage1)
    stage2: Stage2Config = field(default_factory=_stage2)
    # The small attacker behind the privacy report (ships) and the evaluation's unseen
    # ResNet-18 (never ships; 3/4 width so its fp16 file fits a 16 MiB transfer). Each is
    # trained once, in the first round whose state lacks it, then reused.
    attacker: AdversaryTrainConfig = field(default_factory=_adversary(32, 1000))
    heldout: AdversaryTrainConfig = field(default_factory=_adversary(48, 2000))


# The CPU round (2 cores with native bf16; docs/training.md): the model every CPU round
# grows and the sizes that fit a round of about two hours. 64 px; G and D width 32 (192 /
# 256 channels at most); D has 5 stride-2 layers, so its attribute head sees 2x2 (a 1x1
# bf16 convolution is the pattern of pytorch #163347). The attackers are trained once, at
# 64 px, within about 15 minutes together.
CPU_PROFILE = (
    "stage1.data.image_size=64",
    "stage1.generator.width=32", "stage1.generator.max_channels=192",
    "stage1.discriminator.width=32", "stage1.discriminator.max_channels=256", "stage1.discriminator.layers=5",
    "stage1.run.batch_size=32", "stage2.run.batch_size=32", "stage2.mixer.width=16",
    "stage1.run.bf16_cpu=true",
    # inductor: Stage I +13-21% after about 2 minutes of compiling; Stage II 13% slower
    "stage1.run.compile=true",
    "export_every_seconds=600", "finish_seconds=420", "eval_batch_size=128",
    "heldout.model.width=48", "heldout.run.steps=2500", "heldout.run.batch_size=64",
    "attacker.model.width=32", "attacker.run.steps=1500", "attacker.run.batch_size=64",
)


def profile_overrides(device: str | None) -> list[str]:
    """The overrides a device brings before the user's own: the CPU round's sizes on the CPU."""
    return list(CPU_PROFILE) if device == "cpu" else []


def build_round_config(overrides: list[str], state_stage1: dict[str, Any] | None) -> RoundConfig:
    """Defaults, then (continuing) the state's Stage I config, then ``key=value`` overrides;
    a continuing round refuses overrides that change the model."""
    cfg = RoundConfig()
    if state_stage1 is not None:
        saved = copy.deepcopy(state_stage1)
        saved["run"] = config_to_dict(cfg.stage1.run)  # run control is the round's own
        cfg.stage1 = config_from_dict(Stage1Config, saved, "stage1")
    cfg = apply_overrides(cfg, overrides)
    if not 0.0 <= cfg.stage2_share <= 1.0:
        raise InfoscrubError(f"stage2_share must be in [0, 1], got {cfg.stage2_share}")
    if cfg.seconds < 0:
        raise InfoscrubError(f"seconds must be >= 0, got {cfg.seconds}")
    if state_stage1 is not None:
        now = config_to_dict(cfg.stage1)
        changed = [k for k in MODEL_KEYS if now[k] != state_stage1.get(k)]
        changed += [f"data.{k}" for k in MODEL_DATA_KEYS if now["data"][k] != state_stage1["data"].get(k)]
        if changed:
            raise InfoscrubError(f"the state's model differs in {', '.join(changed)}; a changed architecture "
                                 "starts a new state (pass --fresh)")
    return cfg


def seconds_until(until: float, finish_seconds: float, now: float | None = None) -> float:
    """Training seconds left for a round that must have finished (evaluated, written) by
    ``until`` (a time.time() value), keeping ``finish_seconds`` for what follows training."""
    return max(0.0, until - (time.time() if now is None else now) - finish_seconds)


class RoundLog:
    """Prints with the round's elapsed seconds and keeps every line in ``round.log``."""

    def __init__(self, path: Path) -> None:
        self.path, self.t0 = path, time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, message: str) -> None:
        line = f"[{self.elapsed:7.1f} s] {message}"
        print(line, flush=True)
        with self.path.open("a") as handle:
            handle.write(line + "\n")


def _fmt(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    return " ".join(f"{k} {record[k]:.3g}" for k in keys if isinstance(record.get(k), float))


@dataclass
class Round:
    """The state of one round while it runs."""

    cfg: RoundConfig
    out: Path
    work: Path
    log: RoundLog
    ctx: TrainContext
    train: ImageSet
    info: dict[str, Any] = field(default_factory=dict)  # the trainer state's info, updated as it goes
    stage1: Stage1Task | None = None
    mixer: ObfuscationMixer | None = None
    timings: dict[str, float] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)

    # ---- exports

    def editor_info(self) -> dict[str, Any]:
        s1 = self.cfg.stage1
        kind = "stage2" if self.mixer is not None else "stage1"
        config = {"variant": s1.variant, "generator": config_to_dict(s1.generator),
                  "discriminator": config_to_dict(s1.discriminator), "stage1": config_to_dict(s1)}
        if self.mixer is not None:
            config["mixer"] = config_to_dict(self.mixer.cfg)
        return {"kind": kind, "config": config, "attributes": list(self.ctx.attributes),
                "alignment": self.ctx.alignment, "image_size": self.ctx.image_size,
                "step": self.info["steps"], "images_seen": self.info["images_seen"], "round": self.info["rounds"]}

    def export(self) -> None:
        """G_ema (+ mixer) and the trainer state into the output folder, atomically."""
        assert self.stage1 is not None
        nets = {"generator": self.stage1.G_ema.state_dict()}
        if self.mixer is not None:
            nets["mixer"] = self.mixer.state_dict()
        save_weights(self.out / EDITOR, nets, self.editor_info())
        write_trainer_state(self.out / TRAINER, self.stage1.D.state_dict(), self.info)


def _load_adversary_or_train(rnd: Round, which: str, cfg: AdversaryTrainConfig, source: Path,
                             target: Path) -> Path:
    """Reuse ``source`` or train one into ``target``; the report attacker is copied into
    the output folder either way (it belongs to every state), the held-out one is not."""
    if source.is_file():
        Attacker.load(source)  # refuse a damaged file now, not after training
        if source.resolve() != target.resolve() and which == "attacker":
            shutil.copyfile(source, target)  # the report attacker is part of every state
        rnd.log(f"{which}: reusing {source}")
        return source
    start = time.perf_counter()
    cfg = copy.deepcopy(cfg)
    cfg.data.path, cfg.data.image_size = rnd.cfg.stage1.data.path, rnd.ctx.image_size
    cfg.data.alignment = rnd.ctx.alignment
    attributes = list(cfg.data.attributes)
    missing = [a for a in attributes if a not in rnd.train.attribute_names]
    if missing:
        raise InfoscrubError(f"the training data has no labels for {', '.join(missing)}")
    ctx = replace(rnd.ctx, run=cfg.run, attributes=attributes, images_seen=0)
    task = AdversaryTask(cfg, ctx)
    rnd.log(f"{which}: training ResNet-18 width {cfg.model.width} ({count_parameters(task.model) / 1e6:.1f}M "
            f"parameters) for {cfg.run.steps} steps of {cfg.run.batch_size}")
    record = fit(task, ctx, rnd.train, cfg, rnd.work / which,
                 report=lambda r: rnd.log(f"{which}: step {r['step']} {_fmt(r, ('loss', 'train_acc'))} "
                                          f"{r['images_per_s']:.0f} img/s"))
    info = {"kind": "adversary", "config": config_to_dict(cfg), "attributes": attributes,
            "alignment": rnd.ctx.alignment, "image_size": rnd.ctx.image_size, "step": cfg.run.steps}
    save_weights(target, {"adversary": task.model.state_dict()}, info)
    rnd.timings[which] = time.perf_counter() - start
    rnd.log(f"{which}: done in {rnd.timings[which]:.0f} s (train accuracy {record.get('train_acc', float('nan')):.3f})"
            f" -> {target.name}")
    return target


def restore_stage1(task: Stage1Task, start: StatePaths) -> tuple[dict[str, Any], dict[str, Any], dict | None]:
    """Load a compact state into a Stage I task: G and G_ema from the editor's G_ema, D from
    the trainer state. Returns (trainer info, editor info, mixer state dict or None);
    refuses files that are not one state or do not fit the task's networks."""
    info, disc = read_trainer_state(start.trainer)
    editor_info, nets = read_networks(start.editor, ("stage1", "stage2"))
    for key in ("attributes", "image_size", "alignment"):
        if editor_info.get(key) != info[key]:
            raise InfoscrubError(f"{start.editor} and {start.trainer} are not one state ({key} differs)")
    if list(info["attributes"]) != list(task.ctx.attributes):
        raise InfoscrubError(f"the state's attributes ({','.join(info['attributes'])}) are not the run's "
                             f"({','.join(task.ctx.attributes)})")
    load_module_state(task.G, nets["generator"], "generator")
    load_module_state(task.G_ema, nets["generator"], "generator")
    load_module_state(task.D, disc, "discriminator")
    task.ctx.images_seen = info["images_seen"]
    task.restart(True)
    return info, editor_info, nets.get("mixer")


def _start_stage1(rnd: Round, start: StatePaths | None) -> bool:
    """Build the Stage I task; from the compact state when continuing. Returns whether
    training restarts on trained weights."""
    cfg = rnd.cfg
    rnd.stage1 = task = Stage1Task(cfg.stage1, rnd.ctx)
    if start is None:
        rnd.info = {"config": config_to_dict(cfg.stage1), "attributes": list(rnd.ctx.attributes),
                    "alignment": rnd.ctx.alignment, "image_size": rnd.ctx.image_size, "images_seen": 0,
                    "steps": 0, "stage2_images_seen": 0, "rounds": 0, "seed": cfg.seed}
        return False
    info, editor_info, mixer_state = restore_stage1(task, start)
    if mixer_state is not None:
        mixer_cfg = config_from_dict(MixerConfig, editor_info["config"]["mixer"], "mixer")
        if mixer_cfg == cfg.stage2.mixer:  # a changed mixer starts afresh
            rnd.mixer = ObfuscationMixer(len(rnd.ctx.attributes), mixer_cfg).to(rnd.ctx.device)
            load_module_state(rnd.mixer, mixer_state, "mixer")
    rnd.info = {**info, "config": config_to_dict(cfg.stage1)}
    return True


def _train_stage1(rnd: Round, seconds: float, restarted: bool) -> None:
    task, cfg = rnd.stage1, rnd.cfg
    assert task is not None
    before, steps_before = rnd.ctx.images_seen, rnd.info["steps"]
    last_export = [time.perf_counter()]

    def report(record: dict[str, Any]) -> None:
        rnd.info.update(images_seen=rnd.ctx.images_seen, steps=steps_before + record["step"])
        rnd.log(f"stage1: step {record['step']} images {rnd.ctx.images_seen} {record['images_per_s']:.0f} img/s "
                f"remaining {record['remaining_s']:.0f} s | "
                + _fmt(record, ("g_loss", "d_loss", "g_rec", "g_bi", "d_cls_real", "edit_l1")))
        if time.perf_counter() - last_export[0] >= cfg.export_every_seconds:
            rnd.export()
            last_export[0] = time.perf_counter()

    start = time.perf_counter()
    if seconds > 0:
        fit(task, rnd.ctx, rnd.train, cfg.stage1, rnd.work / "stage1", seconds=seconds, restarted=restarted,
            report=report)
    rnd.timings["stage1"] = time.perf_counter() - start
    rnd.images["stage1"] = rnd.ctx.images_seen - before
    rnd.info["images_seen"] = rnd.ctx.images_seen
    rnd.export()
    rnd.log(f"stage1: {rnd.images['stage1']} images in {rnd.timings['stage1']:.0f} s "
            f"({rnd.images['stage1'] / max(rnd.timings['stage1'], 1e-9):.0f} img/s); "
            f"{rnd.info['images_seen']} in all -> {EDITOR}, {TRAINER}")


def _train_stage2(rnd: Round, seconds: float) -> Stage2Task:
    cfg, task1 = rnd.cfg, rnd.stage1
    assert task1 is not None
    s2 = copy.deepcopy(cfg.stage2)
    s2.variant, s2.generator, s2.discriminator = cfg.stage1.variant, cfg.stage1.generator, cfg.stage1.discriminator
    s2.data = cfg.stage1.data
    s2.run.seed = cfg.stage1.run.seed
    ctx = replace(rnd.ctx, run=s2.run, images_seen=rnd.info["stage2_images_seen"])
    frozen = {"models": {"generator": task1.G_ema.state_dict(), "discriminator": task1.D.state_dict()}}
    task = Stage2Task(s2, ctx, frozen)
    restarted = rnd.mixer is not None
    if restarted:
        load_module_state(task.M, rnd.mixer.state_dict(), "mixer")
    start = time.perf_counter()
    if seconds > 0:
        fit(task, ctx, rnd.train, s2, rnd.work / "stage2", seconds=seconds,
            restarted=restarted,
            report=lambda r: rnd.log(f"stage2: step {r['step']} {r['images_per_s']:.0f} img/s remaining "
                                     f"{r['remaining_s']:.0f} s | " + _fmt(r, ("loss", "entropy", "p_obfuscated",
                                                                            "alpha_mean"))))
    rnd.timings["stage2"] = time.perf_counter() - start
    rnd.images["stage2"] = ctx.images_seen - rnd.info["stage2_images_seen"]
    rnd.info["stage2_images_seen"] = ctx.images_seen
    rnd.mixer = task.M
    rnd.export()
    rnd.log(f"stage2: {rnd.images['stage2']} images in {rnd.timings['stage2']:.0f} s -> {EDITOR} with the mixer")
    return task


def run_round(overrides: list[str], data: str | Path, test_data: str | Path, out: str | Path,
              work: str | Path, start: StatePaths | None, fresh: bool = False, device: str | None = None,
              batch_size: int | None = None, until: float | None = None) -> dict[str, Any]:
    """Run one round (see the module doc); returns the round's metrics.

    ``until`` (a time.time() value) ends training ``finish_seconds`` before it, whatever
    the attackers' training took; it replaces ``seconds``."""
    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    clash = [n for n in (EDITOR, TRAINER, METRICS, LOG) if (out / n).exists()]
    if clash:
        raise InfoscrubError(f"{out} already holds a round ({', '.join(clash)}); choose another --out")
    continuing = start is not None and not fresh and start.has_model()
    state_info = read_trainer_state(start.trainer)[0] if continuing else None
    extra = []
    if batch_size is not None:
        extra += [f"stage1.run.batch_size={batch_size}", f"stage2.run.batch_size={batch_size}"]
    if device is not None:
        extra += [f"stage1.run.device={device}"]
    cfg = build_round_config(profile_overrides(device) + list(overrides) + extra,
                             state_info["config"] if state_info else None)
    cfg.stage1.data.path = str(data)
    if state_info is not None:
        cfg.stage1.data.alignment = state_info["alignment"]
    for sub in (cfg.stage2, cfg.attacker, cfg.heldout):
        sub.run.device, sub.run.bf16 = cfg.stage1.run.device, cfg.stage1.run.bf16
        sub.run.bf16_cpu = cfg.stage1.run.bf16_cpu
        sub.run.channels_last = cfg.stage1.run.channels_last
    # torch.compile is each stage's own choice (stage1.run.compile, stage2.run.compile): on the
    # CPU it pays for Stage I and not for Stage II (docs/training.md); the attackers run eager
    rounds_done = state_info["rounds"] if state_info else 0
    cfg.stage1.run.seed = cfg.seed + rounds_done  # new batches every round

    log = RoundLog(out / LOG)
    work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="round-", dir=work))  # checkpoints, logs: never in --out
    ctx = make_context(cfg.stage1.run, list(cfg.stage1.data.attributes))
    device_name = torch.cuda.get_device_name(ctx.device) if ctx.cuda else "cpu"
    log(f"round {rounds_done + 1} on {device_name}: "
        + (f"continuing {start.editor} + {start.trainer}" if continuing else "fresh start")
        + ("" if until is not None else f"; {cfg.seconds:.0f} s of training")
        + f" ({1 - cfg.stage2_share:.0%} Stage I, {cfg.stage2_share:.0%} Stage II)")
    train = load_training_data(cfg.stage1.data, ctx.device)
    if state_info is not None and train.alignment != state_info["alignment"]:
        raise InfoscrubError(f"the data has {train.alignment} alignment, the state {state_info['alignment']}")
    ctx.alignment, ctx.image_size = train.alignment, train.size
    cfg.stage1.data.alignment = train.alignment
    test = load_image_set(test_data, "test", train.size, train.alignment)
    log(f"data: {len(train)} training images on {ctx.device}, {len(test)} test images")
    rnd = Round(cfg, out, work, log, ctx, train)

    paths = start or StatePaths.folder(out)
    heldout = _load_adversary_or_train(rnd, "heldout", cfg.heldout, paths.heldout, out / HELDOUT)
    _load_adversary_or_train(rnd, "attacker", cfg.attacker, paths.attacker, out / ATTACKER)

    if until is not None:
        cfg.seconds = seconds_until(until, cfg.finish_seconds)
        log(f"until {time.strftime('%H:%M:%S', time.localtime(until))}: {cfg.seconds:.0f} s of training, "
            f"{cfg.finish_seconds:.0f} s kept for the evaluation")
    restarted = _start_stage1(rnd, start if continuing else None)
    task1 = rnd.stage1
    log(f"stage1: G {count_parameters(task1.G) / 1e6:.1f}M / D {count_parameters(task1.D) / 1e6:.1f}M parameters, "
        f"batch {cfg.stage1.run.batch_size}, {rnd.ctx.images_seen} images seen before")
    stage2_seconds = cfg.seconds * cfg.stage2_share
    _train_stage1(rnd, cfg.seconds - stage2_seconds, restarted)
    task2 = _train_stage2(rnd, stage2_seconds)
    trained = rnd.images.get("stage1", 0) + rnd.images.get("stage2", 0) > 0
    rnd.info["rounds"] = rounds_done + int(trained)  # --seconds 0 only evaluates (and exports)
    rnd.export()

    metrics = measure_round(rnd, heldout, test, task2, device_name)
    (out / METRICS).write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    log(f"evaluation ({rnd.timings['evaluate']:.0f} s, held-out adversary, {len(test)} test images): "
        f"inversion accuracy {metrics['inversion_accuracy_mean']:.3f} "
        f"(paper {metrics['paper']['inversion_accuracy']['InfoScrub']}), "
        f"entropy {metrics['entropy_bits']['before'] or 0:.2f} -> {metrics['entropy_bits']['after'] or 0:.2f} bits "
        f"(paper {metrics['paper']['entropy_bits']['before']} -> {metrics['paper']['entropy_bits']['after']}), "
        f"utility {metrics['utility']:.3f}, L1 {metrics['l1']:.3f}")
    real = metrics["realism"]
    log(f"realism (Frechet distance in the held-out adversary's features, {real['faces']} faces each): "
        + ", ".join(f"{k} {real[k]:.3g}" for k in ("inverted", "obfuscated", "unedited", "blur", "noise")
                    if real[k] is not None))
    problems = file_problems(sorted(p for p in out.iterdir())) + state_problems(StatePaths.folder(out).shipped())
    for problem in problems:
        log(f"WARNING: {problem}")
    log(f"round done in {log.elapsed:.0f} s: {', '.join(sorted(p.name for p in out.iterdir()))}")
    return metrics
