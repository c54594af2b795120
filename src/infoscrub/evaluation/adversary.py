"""The adversary's own report: accuracy, entropy and calibration on the test split.

``evaluate_adversary`` is the reusable function behind it; ``train_adversary`` is what
``infoscrub train adversary`` runs (train, then report on the test split of ``data.path``,
or of ``eval_path`` when the training data are packed shards).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.data.batches import to_model_range
from infoscrub.data.imageset import ImageSet, load_image_set
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.metrics import entropy_bits, expected_calibration_error
from infoscrub.inference import Attacker
from infoscrub.storage.checkpoints import unwrap
from infoscrub.training.adversary import AdversaryTrainConfig, fit_adversary

REPORT = "adversary_report.json"


@torch.no_grad()
def predict_probabilities(attacker_or_model: Any, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """p(present) (N, outputs) on the CPU for uint8 images (N, 3, S, S); eval mode."""
    if isinstance(attacker_or_model, Attacker):
        predict, model = attacker_or_model.predict, None
    else:
        model = unwrap(attacker_or_model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()

        def predict(faces: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(model(faces.to(device, torch.float32)).float())

    try:
        parts = [predict(to_model_range(images[i:i + batch_size])).cpu()
                 for i in range(0, len(images), batch_size)]
    finally:
        if model is not None:
            model.train(was_training)
    return torch.cat(parts)


def evaluate_adversary(attacker_or_model: Any, image_set: ImageSet, attributes: list[str] | None = None,
                       batch_size: int = 256) -> dict[str, Any]:
    """Accuracy, entropy (bits) and calibration of an attribute classifier on ``image_set``.

    ``attacker_or_model``: an ``infoscrub.inference.Attacker`` (its own attribute order; the
    chosen ``attributes`` must be among them; None = all of them) or a bare network whose
    outputs are ``attributes`` in that order. Returns {"count", "split", "attributes",
    "per_attribute": {name: {accuracy, balanced_accuracy, entropy_bits, ece, mean_p,
    positive_rate, positives}}, "mean": {accuracy, balanced_accuracy, entropy_bits, ece}}.
    """
    if isinstance(attacker_or_model, Attacker):
        available = attacker_or_model.attributes
        attributes = resolve_attributes(attributes if attributes is not None else available, available)
        columns = [available.index(a) for a in attributes]
    else:
        if attributes is None:
            raise InfoscrubError("evaluate_adversary needs the attribute names of a bare model's outputs")
        attributes = resolve_attributes(attributes)
        columns = list(range(len(attributes)))
    if len(image_set) == 0:
        raise InfoscrubError("cannot evaluate the adversary on an empty image set")
    p = predict_probabilities(attacker_or_model, image_set.images, batch_size)
    if p.shape[1] < max(columns) + 1:
        raise InfoscrubError(f"the adversary has {p.shape[1]} outputs but {len(attributes)} attributes were named")
    p = p[:, columns]
    y = image_set.targets(attributes).cpu()
    entropy = entropy_bits(p)
    per: dict[str, dict[str, float]] = {}
    for k, name in enumerate(attributes):
        pk, yk = p[:, k], y[:, k]
        correct = ((pk > 0.5).float() == yk).float()
        rates = [float(correct[yk == v].mean()) for v in (1.0, 0.0) if bool((yk == v).any())]
        per[name] = {
            "accuracy": float(correct.mean()),
            "balanced_accuracy": sum(rates) / len(rates),
            "entropy_bits": float(entropy[:, k].mean()),
            "ece": expected_calibration_error(pk, yk),
            "mean_p": float(pk.mean()),
            "positive_rate": float(yk.mean()),
            "positives": int(yk.sum()),
        }
    mean = {key: float(np.mean([row[key] for row in per.values()]))
            for key in ("accuracy", "balanced_accuracy", "entropy_bits", "ece")}
    return {"count": len(image_set), "split": image_set.split, "attributes": list(attributes),
            "per_attribute": per, "mean": mean}


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of ``evaluate_adversary``'s result."""
    head = f"{'attribute':<22} {'acc':>6} {'bal.acc':>7} {'pos.rate':>8} {'H(bits)':>7} {'ECE':>6}"
    lines = [f"adversary on {report['count']} {report['split']} images", head, "-" * len(head)]
    for name, row in report["per_attribute"].items():
        lines.append(f"{name:<22} {row['accuracy']:>6.3f} {row['balanced_accuracy']:>7.3f} "
                     f"{row['positive_rate']:>8.3f} {row['entropy_bits']:>7.3f} {row['ece']:>6.3f}")
    m = report["mean"]
    lines += ["-" * len(head), f"{'mean':<22} {m['accuracy']:>6.3f} {m['balanced_accuracy']:>7.3f} "
              f"{'':>8} {m['entropy_bits']:>7.3f} {m['ece']:>6.3f}"]
    return "\n".join(lines)


def load_eval_set(cfg: AdversaryTrainConfig) -> tuple[ImageSet | None, str]:
    """The evaluation images (or None) and a note saying where they come from / why not."""
    from infoscrub.data.shards import is_packed, read_manifest

    path = cfg.eval_path or cfg.data.path
    if is_packed(path):
        split = read_manifest(path)["split"]
        if split != cfg.eval_split:
            return None, (f"no evaluation: {path} holds packed {split} data; pass eval_path=FOLDER_OR_PACKED_"
                          f"{cfg.eval_split.upper()} to evaluate on the {cfg.eval_split} split")
    try:
        images = load_image_set(path, cfg.eval_split, cfg.data.image_size, cfg.data.alignment,
                                limit=cfg.eval_limit)
    except InfoscrubError as exc:
        if cfg.eval_path:
            raise
        return None, f"no evaluation: {exc}"
    return images, f"evaluated on the {cfg.eval_split} split of {path}"


def train_adversary(cfg: AdversaryTrainConfig, out: Path, resume: bool = False) -> dict[str, float]:
    """Train the adversary, then (rank 0) report on the test split into ``adversary_report.json``."""
    import os

    record = fit_adversary(cfg, out, resume)
    if os.environ.get("RANK", "0") != "0":
        return record
    test, note = load_eval_set(cfg)
    print(note, flush=True)
    if test is not None:
        attacker = Attacker.load(out / "checkpoint.pt")
        report = evaluate_adversary(attacker, test, list(cfg.data.attributes))
        report.update(source=note, step=cfg.run.steps, mixup_alpha=cfg.mixup_alpha)
        print(format_report(report), flush=True)
        (out / REPORT).write_text(json.dumps(report, indent=2))
        record = {**record, "test_accuracy": report["mean"]["accuracy"],
                  "test_entropy_bits": report["mean"]["entropy_bits"], "test_ece": report["mean"]["ece"]}
    return record
