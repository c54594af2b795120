"""What a round measures when its training ends: the held-out adversary's evaluation on the
test split, the round's ``metrics.json`` record and its sample grid."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import torch

from infoscrub.config import config_to_dict
from infoscrub.data.batches import to_model_range
from infoscrub.data.imageset import ImageSet
from infoscrub.evaluation.collect import CollectOptions, collect
from infoscrub.evaluation.paper_numbers import PAPER_SUMMARY
from infoscrub.evaluation.realism import RealismResult, measure_realism, round_robin_edits
from infoscrub.evaluation.summaries import adversary, fidelity, inversion, obfuscation, utility
from infoscrub.evaluation.summary import EvaluationSummary, summarise
from infoscrub.inference import Attacker, Editor
from infoscrub.models import UNetEditor
from infoscrub.training.stage1 import inversion_grid
from infoscrub.training.stage2 import Stage2Task

if TYPE_CHECKING:
    from pathlib import Path

    from infoscrub.rounds.round import Round

SAMPLES = "samples.png"


def measure_round(rnd: "Round", heldout: "Path", test: ImageSet, task2: Stage2Task, device_name: str) -> dict[str, Any]:
    """Evaluate, build the metrics record and write the sample grid."""
    editor = _round_editor(rnd)
    judge = Attacker.load(heldout, device=rnd.ctx.device)
    summary = _evaluate(rnd, editor, judge, test)
    realism = _realism(rnd, editor, judge, test)
    metrics = round_metrics(rnd, summary, device_name)
    metrics["realism"] = realism.as_dict()
    _sample_grid(rnd, task2, test)
    return metrics


def _round_editor(rnd: "Round") -> Editor:
    """The round's G_ema (+ mixer) as the inference editor a user gets."""
    generator = UNetEditor(len(rnd.ctx.attributes), rnd.cfg.stage1.generator)
    generator.load_state_dict(rnd.stage1.G_ema.state_dict())
    mixer = copy.deepcopy(rnd.mixer) if rnd.mixer is not None else None
    return Editor(generator, rnd.ctx.attributes, rnd.ctx.alignment, rnd.ctx.image_size, mixer, rnd.ctx.device)


def _realism(rnd: "Round", editor: Editor, judge: Attacker, test: ImageSet) -> RealismResult:
    """The realism guard: edited test faces against other real ones (evaluation/realism.py)."""
    start = time.perf_counter()
    result = measure_realism(judge.model, test.images, round_robin_edits(editor, list(editor.attributes)),
                             batch_size=rnd.cfg.eval_batch_size)
    rnd.timings["realism"] = time.perf_counter() - start
    return result


def _sample_grid(rnd: "Round", task2: Stage2Task, test: ImageSet) -> None:
    """One PNG: the inversion grid of G_ema (input | reconstruction | each attribute) over
    the Stage II grid (input | inversion | alpha | obfuscated), on test faces."""
    from PIL import Image

    x = to_model_range(test.images[:6].to(rnd.ctx.device))
    labels = test.targets(rnd.ctx.attributes)[:6].to(rnd.ctx.device)
    top = inversion_grid(rnd.stage1.G_ema, x, labels)
    bottom = task2.sample_grid(x, labels)
    width = max(top.shape[2], bottom.shape[2])
    canvas = torch.full((3, top.shape[1] + bottom.shape[1] + 8, width), 255, dtype=torch.uint8)
    canvas[:, : top.shape[1], : top.shape[2]] = top.cpu()
    canvas[:, top.shape[1] + 8:, : bottom.shape[2]] = bottom.cpu()
    Image.fromarray(canvas.permute(1, 2, 0).numpy()).save(rnd.out / SAMPLES)


def _evaluate(rnd: "Round", editor: Editor, judge: Attacker, test: ImageSet) -> EvaluationSummary:
    start = time.perf_counter()
    # the photo paths; collect drops 'obfuscated' for an editor without a mixer
    options = CollectOptions(batch_size=rnd.cfg.eval_batch_size, paths=("label_free", "obfuscated"), progress=False)
    summary = summarise(collect(editor, judge, test, options))
    rnd.timings["evaluate"] = time.perf_counter() - start
    return summary


def _entropy_bits(summary: EvaluationSummary, attribute: str) -> dict[str, Any] | None:
    """Entropy before/after obfuscation on one attribute's subset (null without a mixer)."""
    if summary.value(obfuscation.ENTROPY_AFTER, attribute) is None:
        return None
    return {"real": summary.value(obfuscation.ENTROPY_BEFORE, attribute),
            "ours": summary.value(obfuscation.ENTROPY_AFTER, attribute),
            "gain": summary.value(obfuscation.ENTROPY_GAIN, attribute)}


def round_metrics(rnd: "Round", summary: EvaluationSummary, device_name: str) -> dict[str, Any]:
    return {
        "round": rnd.info["rounds"],
        "device": device_name,
        "batch_size": {"stage1": rnd.cfg.stage1.run.batch_size, "stage2": rnd.cfg.stage2.run.batch_size},
        "images_seen": {"stage1_round": rnd.images.get("stage1", 0), "stage1_total": rnd.info["images_seen"],
                        "stage2_round": rnd.images.get("stage2", 0), "stage2_total": rnd.info["stage2_images_seen"]},
        "images_per_s": {k: rnd.images[k] / rnd.timings[k] if rnd.timings.get(k) else None
                         for k in ("stage1", "stage2")},
        "steps_total": rnd.info["steps"],
        # The held-out adversary's accuracy on the inverted attribute, label-free path, on the
        # test images it got right before editing (paper Table A1's Acc; lower is better).
        "inversion_accuracy": summary.per(inversion.ACCURACY),
        "inversion_accuracy_mean": summary.privacy,
        "inversion_accuracy_all_mean": summary.privacy_all,
        "entropy_bits": {"before": summary.value(obfuscation.ENTROPY_BEFORE),
                         "after": summary.value(obfuscation.ENTROPY_AFTER),
                         "per_attribute": {a: _entropy_bits(summary, a) for a in summary.attributes}},
        "utility": summary.utility,  # accuracy on the attributes not edited, after inversion
        "utility_unedited": summary.value(utility.UNEDITED),
        "l1": summary.value(fidelity.L1),
        "l1_obfuscated": summary.value(fidelity.L1_OBFUSCATED),
        "heldout_accuracy_real": summary.per(adversary.ACCURACY),
        "paper": PAPER_SUMMARY,  # what the paper reports, beside every round's numbers
        "seconds": {k: round(v, 1) for k, v in rnd.timings.items()},
        "config": config_to_dict(rnd.cfg),
    }
