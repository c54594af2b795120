"""``infoscrub sweep KEY=V1,V2,...``: train Stage I once per value, then the privacy/utility
table of paper Table 3 (privacy = adversary accuracy on the target attributes after
inversion, lower is better; utility = its accuracy on the other attributes, higher is better).

Each run lives in ``OUT/KEY=V/``; a run that already reached its steps is reused and an
unfinished one resumed, so a stopped sweep continues where it was. Results go to
``OUT/sweep.json`` (rewritten after every run) and ``OUT/sweep.md``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

NAMED = (("data", "data.path"), ("steps", "run.steps"), ("batch_size", "run.batch_size"),
         ("device", "run.device"), ("attributes", "data.attributes"))


class _IntermixedParser(argparse.ArgumentParser):
    """Accepts the sweep spec first and KEY=VALUE overrides last with options in between
    (plain argparse would consume the empty override list with the spec)."""

    _intermixed = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixed:
            return super().parse_known_args(args, namespace)
        self._intermixed = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed = False


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="train Stage I over values of one setting; privacy/utility table (paper Table 3)",
        description="Train Stage I once per value of one setting (e.g. eps_s=0.05,0.1,0.2, the "
        "privacy/utility dial of paper Table 3), evaluate each run against an unseen adversary "
        "(privacy: its accuracy on the inverted target attributes; utility: on the others) and "
        "write OUT/sweep.md and OUT/sweep.json. Runs go to OUT/KEY=VALUE/; finished runs are "
        "reused and unfinished ones resumed.")
    p.add_argument("spec", metavar="KEY=V1,V2,...",
                   help="the setting to sweep and its values; KEY is a config key (loss.eps_s) or a "
                   "unique leaf name (eps_s)")
    p.add_argument("--base-config", help="JSON or TOML Stage I config file (default: the defaults)")
    p.add_argument("--data", help="training data: CelebA-format folder or packed shards (data.path)")
    p.add_argument("--out", required=True, help="sweep folder")
    p.add_argument("--adversary", required=True, help="adversary checkpoint or exported weights")
    p.add_argument("--steps", type=int, help="training steps per run (run.steps)")
    p.add_argument("--batch-size", type=int, help="batch size per process (run.batch_size)")
    p.add_argument("--attributes", help="comma-separated target attributes (data.attributes)")
    p.add_argument("--device", help="auto | cpu | cuda (run.device and evaluation)")
    p.add_argument("--eval-data", help="evaluation data (default: --data; needed if --data is packed train shards)")
    p.add_argument("--split", default="test", help="evaluation split (default test)")
    p.add_argument("--per-attribute", type=int, default=None, metavar="N",
                   help="at most N positives and N negatives per attribute in evaluation (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the balanced evaluation subsets")
    p.add_argument("--no-eval", action="store_true", help="train only")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Stage I config overrides for every run")
    p.set_defaults(handler=run_sweep)
    p.__class__ = _IntermixedParser


def parse_spec(text: str) -> tuple[str, list[str]]:
    """``'eps_s=0.05,0.1'`` -> ``('eps_s', ['0.05', '0.1'])``; one-line errors."""
    from infoscrub.errors import InfoscrubError

    key, sep, raw = text.partition("=")
    key = key.strip()
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not sep or not key or not values:
        raise InfoscrubError(f"sweep spec {text!r} is not of the form KEY=V1,V2,...")
    if len(set(values)) != len(values):
        raise InfoscrubError(f"sweep spec {text!r} repeats a value")
    if any(c in key for c in "/\\") or any(c in v for v in values for c in "/\\"):
        raise InfoscrubError(f"sweep spec {text!r}: keys and values name folders and cannot contain slashes")
    return key, values


def resolve_key(config: dict[str, Any], key: str) -> str:
    """The dotted config key ``key`` names: itself if it is one, else the unique leaf of that name."""
    from infoscrub.errors import InfoscrubError

    leaves: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, value in node.items():
            path = f"{prefix}{name}"
            if isinstance(value, dict):
                walk(value, path + ".")
            else:
                leaves.append(path)

    walk(config, "")
    if key in leaves:
        return key
    matches = [leaf for leaf in leaves if leaf.rsplit(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InfoscrubError(f"sweep key {key!r} is ambiguous: {', '.join(matches)}")
    raise InfoscrubError(f"unknown sweep key {key!r}; Stage I config keys: {', '.join(leaves)}")


def build_configs(args: argparse.Namespace) -> tuple[str, str, list[tuple[str, Any]]]:
    """(name as written, dotted key, [(value, Stage1Config)]): every value validated up front."""
    from infoscrub.attributes import resolve_attributes
    from infoscrub.config import apply_overrides, config_to_dict, load_config_file
    from infoscrub.training.stage1 import Stage1Config

    name, values = parse_spec(args.spec)
    base = load_config_file(Stage1Config, args.base_config) if args.base_config else Stage1Config()
    key = resolve_key(config_to_dict(base), name)
    named = [f"{k}={getattr(args, a)}" for a, k in NAMED if getattr(args, a, None) is not None]
    configs = []
    for value in values:
        cfg = apply_overrides(base, list(args.overrides) + named + [f"{key}={value}"])
        cfg.data.attributes = resolve_attributes(cfg.data.attributes)
        configs.append((value, cfg))
    return name, key, configs


def _train(cfg, run_dir: Path) -> int:
    """Train (or resume, or reuse) one run; returns its step count."""
    from infoscrub.storage.checkpoints import load_checkpoint
    from infoscrub.training.stage1 import train_stage1

    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        step = int(load_checkpoint(ckpt, "stage1")["step"])
        if step >= cfg.run.steps:
            print(f"{run_dir}: already trained ({step} steps), reusing it", flush=True)
            return step
        print(f"{run_dir}: resuming at step {step}", flush=True)
        train_stage1(cfg, run_dir, resume=True)
    else:
        train_stage1(cfg, run_dir)
    return cfg.run.steps


def _load_protocol():
    """``evaluate_inversion`` of the evaluation protocol, or None if it is not installed."""
    try:
        from infoscrub.evaluation.protocol import evaluate_inversion
    except ImportError:
        return None
    return evaluate_inversion


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# Paper Table 3, used only if infoscrub.evaluation (which holds the transcription in
# paper_numbers.PAPER_TABLE_3) cannot be imported.
_PAPER_TABLE_3 = [{"privacy": 0.155, "utility": 0.863}, {"privacy": 0.147, "utility": 0.807},
                  {"privacy": 0.130, "utility": 0.781}]


def render_table(name: str, runs: list[dict[str, Any]], note: str) -> str:
    try:
        from infoscrub.evaluation.paper_numbers import PAPER_TABLE_3
    except ImportError:
        PAPER_TABLE_3 = _PAPER_TABLE_3

    header = f"| {name} | " + " | ".join(r["value"] for r in runs) + " |"
    lines = [f"# Sweep of {name} (paper Table 3)", "", header,
             "|" + "---|" * (len(runs) + 1),
             "| privacy (lower is better) | " + " | ".join(_fmt(r.get("privacy")) for r in runs) + " |",
             "| utility (higher is better) | " + " | ".join(_fmt(r.get("utility")) for r in runs) + " |",
             "", note, "",
             "Paper Table 3 (eps_s grows left to right; its values were lost in the text extraction): "
             "privacy " + "/".join(f"{r['privacy']:.3f}" for r in PAPER_TABLE_3)
             + ", utility " + "/".join(f"{r['utility']:.3f}" for r in PAPER_TABLE_3) + ".",
             "Privacy: mean adversary accuracy on each target attribute after (label-free) inversion, "
             "on the balanced test images it classified correctly before; utility: its mean accuracy "
             "on the non-target attributes after inversion."]
    return "\n".join(lines) + "\n"


def run_sweep(args: argparse.Namespace) -> int:
    from infoscrub.errors import InfoscrubError

    if args.per_attribute is not None and args.per_attribute < 1:
        raise InfoscrubError("--per-attribute must be at least 1")
    name, key, configs = build_configs(args)
    out = Path(args.out)
    is_main = int(os.environ.get("RANK", "0")) == 0
    evaluate = None if args.no_eval else _load_protocol()
    if args.no_eval:
        note = "Not evaluated (--no-eval)."
    elif evaluate is None:
        note = ("Not evaluated: infoscrub.evaluation.protocol is not installed; the runs are trained and "
                "can be evaluated later with 'infoscrub evaluate'.")
    else:
        note = (f"Evaluated against {args.adversary} on the {args.split} split of {args.eval_data or configs[0][1].data.path}"
                f" (per attribute: {args.per_attribute or 'all'}, seed {args.seed}).")
    attacker = device = None
    if evaluate is not None:  # fail before hours of training, not after
        from infoscrub.inference import Attacker
        from infoscrub.training.loop import resolve_device

        device = resolve_device(args.device or "auto")
        attacker = Attacker.load(args.adversary, device)
    elif not Path(args.adversary).is_file():
        raise InfoscrubError(f"adversary {args.adversary} does not exist")
    if is_main:
        print(f"sweep {key} over {', '.join(v for v, _ in configs)}: {len(configs)} Stage I runs in {out}", flush=True)
    results: dict[str, Any] = {"name": name, "key": key, "values": [v for v, _ in configs], "runs": [],
                               "evaluated": evaluate is not None, "note": note, "adversary": str(args.adversary),
                               "data": configs[0][1].data.path, "eval_data": args.eval_data or configs[0][1].data.path, "split": args.split,
                               "per_attribute": args.per_attribute, "seed": args.seed}
    images: dict[tuple[int, str], Any] = {}
    for value, cfg in configs:
        run_dir = out / f"{name}={value}"
        steps = _train(cfg, run_dir)
        run: dict[str, Any] = {"value": value, "run": str(run_dir), "checkpoint": str(run_dir / "checkpoint.pt"),
                               "steps": steps}
        if evaluate is not None and is_main:
            from infoscrub.data import load_image_set
            from infoscrub.inference import Editor

            editor = Editor.load(run_dir / "checkpoint.pt", device)
            where = (editor.image_size, editor.alignment)
            if where not in images:
                source = args.eval_data or cfg.data.path
                images[where] = load_image_set(source, args.split, editor.image_size, editor.alignment)
            metrics = evaluate(editor, attacker, images[where], list(editor.attributes), args.per_attribute,
                               args.seed)
            run.update(privacy=metrics.get("privacy"), utility=metrics.get("utility"),
                       privacy_all=metrics.get("privacy_all"))
            (run_dir / "inversion_metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
            print(f"{name}={value}: privacy {_fmt(run['privacy'])}  utility {_fmt(run['utility'])}", flush=True)
        results["runs"].append(run)
        if is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "sweep.json").write_text(json.dumps(results, indent=2))
    if is_main:
        table = render_table(name, results["runs"], note)
        (out / "sweep.md").write_text(table)
        print(table, end="")
    return 0
