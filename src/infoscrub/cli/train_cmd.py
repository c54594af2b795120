"""``infoscrub train KIND`` for every kind of ``infoscrub.kinds`` (one parser per row of that
table), plus ``train round`` and ``train keep`` (GPU windows, ``infoscrub.rounds``).

Every kind names a config dataclass and ``train(cfg, out, resume)``; settings
come from the dataclass defaults, then ``--config FILE`` (JSON/TOML), then ``key=value``
overrides, then the named options below. The resolved config is saved in the run folder
and in every checkpoint.
"""

from __future__ import annotations

import argparse
import time

from infoscrub.kinds import KINDS, ModelKind, resolve


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model (Stage I/II, adversary, baselines)",
                           description="Train one of infoscrub's models.")
    train_sub = train.add_subparsers(dest="trainer", metavar="MODEL", required=True)
    for name, trainer in KINDS.items():
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
    _register_round(train_sub)
    _register_keep(train_sub)


def _register_round(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser(
        "round", help="one training round (CPU or GPU): continue the compact state, evaluate, export (docs/training.md)",
        description="Continue the compact state (shipped G_ema + mixer, discriminator, attackers) or start "
        "fresh; train Stage I then Stage II for a wall-clock budget; train the held-out adversary and the "
        "report attacker only if the state lacks them; evaluate on the test split with the held-out adversary; "
        "write the new state, metrics.json, samples.png and round.log into --out (at most 8 files, each "
        "under 16 MiB). Settings: key=value overrides of the round config (--print-config lists them), "
        "e.g. stage1.loss.eps_s=0.2 stage2_share=0.25.")
    p.add_argument("--data", required=True, help="training split: packed shards or a CelebA-format folder")
    p.add_argument("--test-data", required=True, help="test split: packed shards or a CelebA-format folder")
    p.add_argument("--out", required=True, help="output folder for the round's files (new or empty)")
    p.add_argument("--work", default=None, help="folder for checkpoints and logs that do not travel "
                   "(default: the system's temp folder)")
    p.add_argument("--from", dest="from_dir", default=None,
                   help="continue the state in this folder (a round's --out) instead of the repository's")
    p.add_argument("--state-dir", default="state", help="the repository's state folder (default: state)")
    p.add_argument("--weights-dir", default=None, help="folder of the shipped editor/attacker weights "
                   "(default: the package's assets/weights)")
    p.add_argument("--fresh", action="store_true", help="start a new model (the attackers are still reused)")
    p.add_argument("--seconds", type=float, help="training seconds, Stage I + Stage II (seconds)")
    p.add_argument("--until", help="end time HH:MM (local; the next such time): training stops early "
                   "enough for the evaluation to end by then (replaces --seconds)")
    p.add_argument("--batch-size", type=int, help="batch size of Stage I and Stage II")
    p.add_argument("--device", help="auto | cpu | cuda; cpu brings the CPU round's sizes (docs/training.md)")
    p.add_argument("--print-config", action="store_true", help="print the resolved round config and exit")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="round config overrides")
    p.set_defaults(handler=run_round_cmd)


def _register_keep(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser(
        "keep", help="replace the repository's state with a round's, if it is better",
        description="Keep a round's state only if the held-out adversary's mean inversion accuracy went down "
        "while utility stayed at or above 0.8 (or with --force); the shipped weights go to the package's "
        "assets, the rest to --state-dir. Prints the decision and why.")
    p.add_argument("round", help="a finished round's output folder")
    p.add_argument("--state-dir", default="state", help="the repository's state folder (default: state)")
    p.add_argument("--weights-dir", default=None, help="folder of the shipped editor/attacker weights "
                   "(default: the package's assets/weights)")
    p.add_argument("--force", action="store_true", help="keep it even if it is not better")
    p.set_defaults(handler=run_keep_cmd)


def run_round_cmd(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from infoscrub.config import config_to_dict
    from infoscrub.rounds.round import build_round_config, profile_overrides, run_round
    from infoscrub.rounds.state import StatePaths, read_trainer_state

    start = (StatePaths.folder(args.from_dir) if args.from_dir
             else StatePaths.repository(args.state_dir, args.weights_dir))
    overrides = list(args.overrides) + ([f"seconds={args.seconds}"] if args.seconds is not None else [])
    if args.print_config:
        info = read_trainer_state(start.trainer)[0] if start.has_model() and not args.fresh else None
        cfg = build_round_config(profile_overrides(args.device) + overrides, info and info["config"])
        print(json.dumps(config_to_dict(cfg), indent=2))
        return 0
    if args.from_dir and not start.has_model() and not args.fresh:
        from infoscrub.errors import InfoscrubError

        raise InfoscrubError(f"{args.from_dir} holds no state (editor.safetensors + trainer.safetensors); "
                             "pass --fresh to start a new model")
    run_round(overrides, args.data, args.test_data, args.out, args.work or tempfile.gettempdir(), start,
              fresh=args.fresh, device=args.device, batch_size=args.batch_size,
              until=parse_until(args.until) if args.until else None)
    return 0


def parse_until(text: str, now: float | None = None) -> float:
    """``HH:MM`` (or ``HH:MM:SS``) local time -> the next such moment as a time.time() value."""
    import datetime as dt

    from infoscrub.errors import InfoscrubError

    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            clock = dt.datetime.strptime(text, fmt).time()
            break
        except ValueError:
            continue
    else:
        raise InfoscrubError(f"--until {text!r} is not a time of day HH:MM")
    current = dt.datetime.fromtimestamp(time.time() if now is None else now)
    end = dt.datetime.combine(current.date(), clock)
    if end <= current:
        end += dt.timedelta(days=1)
    return end.timestamp()


def run_keep_cmd(args: argparse.Namespace) -> int:
    from infoscrub.rounds.keep import keep_round
    from infoscrub.rounds.state import StatePaths

    target = StatePaths.repository(args.state_dir, args.weights_dir)
    kept, why = keep_round(args.round, target, force=args.force)
    if kept:
        print(f"kept {args.round}: {why}; replaced {target.editor}, {target.attacker}, {target.trainer}, "
              f"{target.metrics}")
    else:
        print(f"kept the old state: {why}")
    return 0


def _resolve_config(args: argparse.Namespace):
    from infoscrub.config import apply_overrides, load_config_file

    trainer: ModelKind = args.trainer_spec
    cls = resolve(trainer.config)
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
    trainer: ModelKind = args.trainer_spec
    if args.resume:  # before any data is decoded (24,000 images take a while)
        from infoscrub.training.loop import CHECKPOINT

        if not (Path(args.out) / CHECKPOINT).is_file():
            from infoscrub.errors import InfoscrubError

            raise InfoscrubError(f"--resume: {args.out} holds no {CHECKPOINT} to continue; "
                                 "drop --resume to start a new run there")
    train = resolve(trainer.train)
    record = train(cfg, Path(args.out), resume=args.resume)
    if record and os.environ.get("RANK", "0") == "0":  # one summary line under torchrun
        print("final: " + json.dumps(record))
    return 0
