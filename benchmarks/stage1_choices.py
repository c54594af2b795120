"""CPU study behind two Stage I defaults: the number of U-Net skip connections and the
warm-up of the discriminator's attribute heads (README, "Model size and defaults").

At small size (64 px, narrow networks, batch 16) every setting trains for the same number
of images; then a held-out ResNet-18 (trained here once, on the same training split, never
seen by the generators) judges the label-free inversions of balanced test subsets:

- ``inv_acc``: its accuracy on the inverted attribute, on the images it got right before
  (paper Table A1's Acc; lower = stronger edits);
- ``rec_l1``: mean |G_ema(x, a) - x| on test faces (reconstruction; lower is better);
- ``edit_l1``: mean |x' - x| of the inversions;
- ``head_acc``: accuracy of the discriminator's attribute heads on real test faces.

    .venv/bin/python benchmarks/stage1_choices.py ../shared/data/celebahq128 --steps 1500
    .venv/bin/python benchmarks/stage1_choices.py DATA --study both --skip-values 1,2 --skip-seeds 1 \
        --skips 1 --seeds 0,1 --out SAME_FILE   # reuses the rows it already has

Prints one row per run and writes them as JSON lines to --out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from infoscrub.config import apply_overrides
from infoscrub.data.batches import to_model_range
from infoscrub.data.imageset import load_image_set
from infoscrub.evaluation.protocol import evaluate_inversion
from infoscrub.inference import Attacker, Editor
from infoscrub.training.adversary import AdversaryTask, AdversaryTrainConfig
from infoscrub.training.config import RunConfig
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext, fit
from infoscrub.training.stage1 import Stage1Config, Stage1Task

SMALL = ["generator.width=16", "generator.max_channels=128", "discriminator.width=16",
         "discriminator.max_channels=128", "discriminator.layers=5", "data.image_size=64",
         "run.log_every=100", "run.sample_every=1000000", "run.checkpoint_every=0", "run.progress=false"]


def context(run: RunConfig, attributes: list[str], size: int) -> TrainContext:
    return TrainContext(torch.device("cpu"), DistInfo(), run, attributes, "celebahq", size)


def train_judge(train, steps: int, work: Path) -> Attacker:
    cfg = AdversaryTrainConfig()
    cfg.model.width = 16
    cfg.data.image_size = train.size
    cfg.run = RunConfig(steps=steps, batch_size=64, log_every=100, sample_every=10**9, checkpoint_every=0,
                        progress=False, device="cpu")
    attributes = list(cfg.data.attributes)
    torch.manual_seed(1234)  # independent of every generator run
    task = AdversaryTask(cfg, context(cfg.run, attributes, train.size))
    fit(task, task.ctx, train, cfg, work / "judge")
    return Attacker(task.model, attributes, train.size)


@torch.no_grad()
def measure(task: Stage1Task, judge: Attacker, test, per_attribute: int) -> dict[str, float]:
    attrs = task.ctx.attributes
    editor = Editor(task.G_ema, attrs, "celebahq", test.size)
    summary = evaluate_inversion(editor, judge, test, None, per_attribute, labelled=False)
    x = to_model_range(test.images[:256])
    labels = test.targets(attrs)[:256]
    feats, code = task.G_ema.encode(x)
    rec_l1 = float((task.G_ema.decode(x, feats, code) - x).abs().mean())
    task.D.eval()
    _, cls = task.D(x)
    task.D.train()
    head_acc = float(((cls.mean(1) > 0).float() == labels).float().mean())
    return {"inv_acc": summary["privacy"], "inv_acc_all": summary["privacy_all"],
            "utility": summary["utility"], "rec_l1": rec_l1,
            "edit_l1": summary["mean"]["fidelity"]["label_free"]["l1"], "head_acc": head_acc}


def run_one(train, test, judge, overrides: list[str], steps: int, per_attribute: int, work: Path) -> dict:
    cfg = apply_overrides(Stage1Config(), SMALL + overrides + [f"run.steps={steps}", "run.batch_size=16",
                                                               "run.device=cpu"])
    torch.manual_seed(cfg.run.seed)
    ctx = context(cfg.run, list(cfg.data.attributes), train.size)
    task = Stage1Task(cfg, ctx)
    start = time.perf_counter()
    fit(task, ctx, train, cfg, Path(tempfile.mkdtemp(dir=work)))
    seconds = time.perf_counter() - start
    return {"overrides": overrides, "images": ctx.images_seen, "seconds": round(seconds, 1),
            **measure(task, judge, test, per_attribute)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="CelebA-format folder (e.g. ../shared/data/celebahq128)")
    parser.add_argument("--study", choices=("skips", "warmup", "both"), default="both")
    parser.add_argument("--steps", type=int, default=1500, help="Stage I steps of batch 16 per run")
    parser.add_argument("--skip-values", default="0,1,2,4")
    parser.add_argument("--skip-seeds", default="0", help="seeds of the skips study")
    parser.add_argument("--skips", type=int, default=1, help="skips of the warm-up study")
    parser.add_argument("--warmup", type=int, default=200, help="d_warmup_steps compared with 0")
    parser.add_argument("--seeds", default="0,1", help="seeds of the warm-up study")
    parser.add_argument("--judge-steps", type=int, default=800)
    parser.add_argument("--per-attribute", type=int, default=100)
    parser.add_argument("--out", default="stage1_choices.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    work = Path(tempfile.mkdtemp(prefix="stage1-choices-"))
    train = load_image_set(args.data, "train", 64)
    test = load_image_set(args.data, "test", 64)
    start = time.perf_counter()
    judge = train_judge(train, args.judge_steps, work)
    print(f"held-out judge: ResNet-18 width 16, {args.judge_steps} steps, {time.perf_counter() - start:.0f} s",
          flush=True)
    plans: list[list[str]] = []
    if args.study in ("skips", "both"):
        plans += [[f"generator.skips={k}", f"run.seed={seed}"]
                  for seed in args.skip_seeds.split(",") for k in args.skip_values.split(",")]
    if args.study in ("warmup", "both"):
        for seed in args.seeds.split(","):
            for warm in (0, args.warmup):
                plan = [f"generator.skips={args.skips}", f"run.seed={seed}"] + ([f"d_warmup_steps={warm}"] if warm else [])
                if plan not in plans:
                    plans.append(plan)
    # Rows already in --out with the same settings and steps are reused (runs are
    # deterministic on the CPU and the judge is seeded): an interrupted study resumes.
    done = {}
    if Path(args.out).is_file():
        for line in Path(args.out).read_text().splitlines():
            row = json.loads(line)
            done[(tuple(sorted(row["overrides"])), row["images"])] = row
    print(f"{'settings':<52} {'images':>7} {'s':>5} {'inv_acc':>7} {'all':>6} {'util':>6} {'rec_l1':>7} "
          f"{'edit_l1':>7} {'head_acc':>8}", flush=True)
    with open(args.out, "a") as handle:
        for plan in plans:
            row = done.get((tuple(sorted(plan)), args.steps * 16))
            if row is None:
                row = run_one(train, test, judge, plan, args.steps, args.per_attribute, work)
                handle.write(json.dumps(row) + "\n")
                handle.flush()
            print(f"{' '.join(plan):<52} {row['images']:>7} {row['seconds']:>5.0f} {row['inv_acc']:>7.3f} "
                  f"{row['inv_acc_all']:>6.3f} {row['utility']:>6.3f} {row['rec_l1']:>7.4f} {row['edit_l1']:>7.4f} "
                  f"{row['head_acc']:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
