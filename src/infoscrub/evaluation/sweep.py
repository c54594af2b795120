"""Sweeps (paper Table 3): train Stage I once per value of one setting, evaluate each run
against an unseen adversary, and tabulate privacy (its accuracy on the inverted target
attributes, lower is better) against utility (its accuracy on the others, higher is
better).

Each run lives in ``OUT/KEY=V/``; a run that already reached its steps is reused and an
unfinished one resumed, so a stopped sweep continues where it was. Results go to
``OUT/sweep.json`` (rewritten after every run) and ``OUT/sweep.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoscrub.attributes import resolve_attributes
from infoscrub.config import apply_overrides, config_to_dict, load_config_file
from infoscrub.data import load_image_set
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.paper_numbers import PAPER_TABLE_3
from infoscrub.evaluation.protocol import evaluate_inversion
from infoscrub.inference import Attacker, Editor
from infoscrub.storage.checkpoints import load_checkpoint
from infoscrub.training.loop import resolve_device
from infoscrub.training.stage1 import Stage1Config, train_stage1


@dataclass
class SweepRequest:
    spec: str  # "KEY=V1,V2,..."
    out: str
    adversary: str  # checkpoint or exported weights of the unseen adversary
    overrides: list[str] = field(default_factory=list)  # Stage I settings of every run
    base_config: str | None = None  # JSON or TOML Stage I config file
    eval_data: str | None = None  # default: the training data
    split: str = "test"
    per_attribute: int | None = None
    seed: int = 0
    evaluate: bool = True
    device: str = "auto"
    channels: tuple[str, ...] = ()  # sharing channels: privacy after each, beside the unshared


def parse_spec(text: str) -> tuple[str, list[str]]:
    """``'eps_s=0.05,0.1'`` -> ``('eps_s', ['0.05', '0.1'])``; one-line errors."""
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


def build_configs(request: SweepRequest) -> tuple[str, str, list[tuple[str, Stage1Config]]]:
    """(name as written, dotted key, [(value, Stage1Config)]): every value validated up front."""
    name, values = parse_spec(request.spec)
    base = load_config_file(Stage1Config, request.base_config) if request.base_config else Stage1Config()
    key = resolve_key(config_to_dict(base), name)
    configs = []
    for value in values:
        cfg = apply_overrides(base, list(request.overrides) + [f"{key}={value}"])
        cfg.data.attributes = resolve_attributes(cfg.data.attributes)
        configs.append((value, cfg))
    return name, key, configs


def train_run(cfg: Stage1Config, run_dir: Path) -> int:
    """Train (or resume, or reuse) one run; returns its step count."""
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


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_table(name: str, runs: list[dict[str, Any]], note: str) -> str:
    header = f"| {name} | " + " | ".join(r["value"] for r in runs) + " |"
    lines = [f"# Sweep of {name} (paper Table 3)", "", header,
             "|" + "---|" * (len(runs) + 1),
             "| privacy (lower is better) | " + " | ".join(_fmt(r.get("privacy")) for r in runs) + " |",
             "| utility (higher is better) | " + " | ".join(_fmt(r.get("utility")) for r in runs) + " |",
             *[f"| privacy after {c} | " + " | ".join(_fmt((r.get("privacy_shared") or {}).get(c)) for r in runs) + " |"
               for c in dict.fromkeys(c for r in runs for c in (r.get("privacy_shared") or {}))],
             "", note, "",
             "Paper Table 3 (eps_s grows left to right; its values were lost in the text extraction): "
             "privacy " + "/".join(f"{r['privacy']:.3f}" for r in PAPER_TABLE_3)
             + ", utility " + "/".join(f"{r['utility']:.3f}" for r in PAPER_TABLE_3) + ".",
             "Privacy: mean adversary accuracy on each target attribute after (label-free) inversion, "
             "on the balanced test images it classified correctly before; utility: its mean accuracy "
             "on the non-target attributes after inversion."]
    return "\n".join(lines) + "\n"


def run_sweep(request: SweepRequest) -> dict[str, Any]:
    """Train and evaluate every run (see the module doc); returns what sweep.json holds."""
    if request.per_attribute is not None and request.per_attribute < 1:
        raise InfoscrubError("--per-attribute must be at least 1")
    name, key, configs = build_configs(request)
    out = Path(request.out)
    is_main = int(os.environ.get("RANK", "0")) == 0
    data = configs[0][1].data.path
    eval_data = request.eval_data or data
    if request.evaluate:
        note = (f"Evaluated against {request.adversary} on the {request.split} split of {eval_data}"
                f" (per attribute: {request.per_attribute or 'all'}, seed {request.seed}).")
    else:
        note = "Not evaluated (--no-eval)."
    attacker = device = None
    if request.evaluate:  # fail before hours of training, not after
        device = resolve_device(request.device)
        attacker = Attacker.load(request.adversary, device)
    elif not Path(request.adversary).is_file():
        raise InfoscrubError(f"adversary {request.adversary} does not exist")
    if is_main:
        print(f"sweep {key} over {', '.join(v for v, _ in configs)}: {len(configs)} Stage I runs in {out}", flush=True)
    results: dict[str, Any] = {"name": name, "key": key, "values": [v for v, _ in configs], "runs": [],
                               "evaluated": request.evaluate, "note": note, "adversary": str(request.adversary),
                               "data": data, "eval_data": eval_data, "split": request.split,
                               "per_attribute": request.per_attribute, "seed": request.seed}
    images: dict[tuple[int, str], Any] = {}
    for value, cfg in configs:
        run_dir = out / f"{name}={value}"
        steps = train_run(cfg, run_dir)
        run: dict[str, Any] = {"value": value, "run": str(run_dir), "checkpoint": str(run_dir / "checkpoint.pt"),
                               "steps": steps}
        if request.evaluate and is_main:
            editor = Editor.load(run_dir / "checkpoint.pt", device)
            where = (editor.image_size, editor.alignment)
            if where not in images:
                images[where] = load_image_set(eval_data, request.split, editor.image_size, editor.alignment)
            metrics = evaluate_inversion(editor, attacker, images[where], list(editor.attributes),
                                         request.per_attribute, request.seed, channels=request.channels)
            run.update(privacy=metrics.get("privacy"), utility=metrics.get("utility"),
                       privacy_all=metrics.get("privacy_all"), privacy_shared=metrics.get("privacy_shared", {}))
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
    return results
