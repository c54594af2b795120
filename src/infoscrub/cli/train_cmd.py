"""``infoscrub train stage1|stage2|adversary|stargan|icgan``: one parser, one trainer table.

Every trainer module exposes a config dataclass and ``train(cfg, out, resume)``; settings
come from the dataclass defaults, then ``--config FILE`` (JSON/TOML), then ``key=value``
overrides, then the named options below. The resolved config is saved in the run folder
and in every checkpoint.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trainer:
    module: str
    config_class: str
    function: str
    help: str
    # extra command-line options: (flag, config key, help)
    options: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)


TRAINERS: dict[str, Trainer] = {
    "stage1": Trainer("infoscrub.training.stage1", "Stage1Config", "train_stage1",
                      "Stage I: attribute inversion (bi-directional discriminator or an ablation)",
                      (("--variant", "variant", "bidirectional | d_attr | d_attr_at"),)),
    "stage2": Trainer("infoscrub.training.stage2", "Stage2Config", "train_stage2",
                      "Stage II: the obfuscation mixer on a frozen Stage I model",
                      (("--stage1", "stage1_checkpoint", "Stage I checkpoint to build on"),)),
    "adversary": Trainer("infoscrub.training.adversary", "AdversaryTrainConfig", "train_adversary",
                         "the unseen ResNet-18 attribute adversary (mixup) used for evaluation"),
    "stargan": Trainer("infoscrub.baselines.stargan", "StarGANConfig", "train_stargan",
                       "baseline: StarGAN (Choi et al. 2018), official 128x128 architecture"),
    "icgan": Trainer("infoscrub.baselines.icgan", "IcGANConfig", "train_icgan",
                     "baseline: IcGAN (Perarnau et al. 2016) adapted to 128x128"),
}


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model (Stage I/II, adversary, baselines)",
                           description="Train one of infoscrub's models.")
    train_sub = train.add_subparsers(dest="trainer", metavar="MODEL", required=True)
    for name, trainer in TRAINERS.items():
        p = train_sub.add_parser(
            name, help=trainer.help,
            description=f"{trainer.help}. Settings: defaults < --config FILE < key=value overrides "
            "(e.g. run.steps=1000 run.batch_size=32 loss.eps_s=0.2 data.attributes=Male,Smiling). "
            "Use --print-config to see every key.")
        p.add_argument("--data", help="CelebA-format folder or packed shard folder (data.path)")
        p.add_argument("--out", required=True, help="run folder (checkpoint, config, metrics, samples)")
        p.add_argument("--config", help="JSON or TOML file with settings")
        p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
        p.add_argument("--attributes", help="comma-separated attribute names (data.attributes)")
        p.add_argument("--steps", type=int, help="total training steps (run.steps)")
        p.add_argument("--batch-size", type=int, help="batch size per process (run.batch_size)")
        p.add_argument("--device", help="auto | cpu | cuda (run.device)")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
        for flag, key, text in trainer.options:
            p.add_argument(flag, dest=key.replace(".", "__"), help=f"{text} ({key})")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
        p.set_defaults(handler=run_train, trainer_spec=trainer)


def _resolve_config(args: argparse.Namespace):
    from infoscrub.config import apply_overrides, load_config_file

    trainer: Trainer = args.trainer_spec
    cls = getattr(importlib.import_module(trainer.module), trainer.config_class)
    cfg = load_config_file(cls, args.config) if args.config else cls()
    named = {"data.path": args.data, "data.attributes": args.attributes, "run.steps": args.steps,
             "run.batch_size": args.batch_size, "run.device": args.device}
    for _, key, _ in trainer.options:
        named[key] = getattr(args, key.replace(".", "__"))
    overrides = list(args.overrides) + [f"{k}={v}" for k, v in named.items() if v is not None]
    cfg = apply_overrides(cfg, overrides)
    if hasattr(cfg, "data"):  # validate names now, before any data is read
        from infoscrub.attributes import resolve_attributes

        cfg.data.attributes = resolve_attributes(cfg.data.attributes)
    return cfg


def run_train(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from infoscrub.config import config_to_dict

    cfg = _resolve_config(args)
    if args.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2))
        return 0
    trainer: Trainer = args.trainer_spec
    train = getattr(importlib.import_module(trainer.module), trainer.function)
    record = train(cfg, Path(args.out), resume=args.resume)
    if record and os.environ.get("RANK", "0") == "0":  # one summary line under torchrun
        print("final: " + json.dumps(record))
    return 0
