"""The paper's evaluation protocol (SPEC §4): inversion, obfuscation, utility, fidelity, FID.

One pass does everything. The test images are decoded once; the adversary judges the real
images once for all target attributes (on the union of the balanced subsets); then for each
target attribute its balanced subset goes through the editor batch by batch
(``FaceEditor.edit_paths``: an InfoScrub ``Editor`` shares one encoder pass between the
paths, baselines edit path by path), and every edited batch is judged once.

Edits are quantised to uint8 before they are judged, as a saved photo would be.

Paths: ``label_free`` (``edit`` without labels, what a photo gets: primary), ``labelled``
(``edit(..., labels=...)``), ``obfuscated`` (Stage II, label-free, when the model has a
mixer). Subsets for the inversion rates: ``all`` (the balanced subset) and ``correct`` (the
images the adversary labels correctly before editing: the paper's setting, Real = 100%).

Steps: ``collect`` (the pass, typed results in ``collected``), ``summarise`` (every registered
metric of ``summaries``, into an ``EvaluationSummary``), ``report`` (report.md), ``figures``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from infoscrub.evaluation.collect import CollectOptions, collect
from infoscrub.evaluation.collected import PATHS, Collected
from infoscrub.evaluation.identity_check import IdentityCheck
from infoscrub.evaluation.report import FORMAT, VERSION, write_report
from infoscrub.evaluation.summaries.obfuscation import UNAVAILABLE
from infoscrub.evaluation.summary import summarise
from infoscrub.storage.files import file_sha256


def evaluate_inversion(editor, attacker, image_set, attributes: list[str] | None, per_attribute: int | None,
                       seed: int = 0, batch_size: int = 64, progress: bool = False,
                       labelled: bool = True, channels: tuple[str, ...] = ()) -> dict[str, Any]:
    """Inversion (paper Tables 1/A1/2/3) of each target attribute on its balanced subset.

    Returns the summary as metrics.json writes it, without obfuscation: keys 'privacy' (mean
    Acc of the adversary on the target attributes after label-free inversion, on the images
    it got right before: the paper's Table 3 privacy), 'privacy_all' (same on the whole
    balanced subsets), 'utility' (mean accuracy on the non-target attributes after
    inversion), 'per_attribute', 'mean', 'fid' (None).
    """
    paths = ("label_free", "labelled") if labelled else ("label_free",)
    options = CollectOptions(attributes, per_attribute, seed, batch_size, paths, channels, progress=progress)
    return summarise(collect(editor, attacker, image_set, options)).as_json()


def evaluate_obfuscation(editor, attacker, image_set, attributes: list[str] | None,
                         per_attribute: int | None, seed: int = 0, batch_size: int = 64,
                         progress: bool = False) -> dict[str, Any]:
    """Obfuscation (paper Tables 4/A2); {'available': False, 'message': ...} without a mixer."""
    if not editor.can_obfuscate:
        return {"available": False, "message": UNAVAILABLE}
    options = CollectOptions(attributes, per_attribute, seed, batch_size, ("obfuscated",), progress=progress)
    summary = summarise(collect(editor, attacker, image_set, options))
    return {"available": True, "attributes": summary.attributes,
            "per_attribute": {a: e["obfuscation"] for a, e in summary.per_attribute.items()},
            "mean": summary.mean["obfuscation"]}


def model_info(editor, checkpoint: str | Path | None = None) -> dict[str, Any]:
    info = getattr(editor, "info", None) or {}
    config = info.get("config") or {}
    return {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "kind": info.get("kind", type(editor).__name__),
        "variant": config.get("variant"),
        "steps": info.get("step"),
        "attributes": list(editor.attributes),
        "alignment": editor.alignment,
        "image_size": editor.image_size,
        "can_obfuscate": bool(editor.can_obfuscate),
    }


def adversary_info(attacker, adversary: str | Path | None) -> dict[str, Any]:
    return {"checkpoint": None if adversary is None else str(adversary),
            # the same file named two ways is one adversary (compare checks this)
            "sha256": None if adversary is None else file_sha256(adversary),
            "attributes": len(attacker.attributes)}


def _identity_check(image_set, faces: int | None) -> IdentityCheck | None:
    if not faces:
        return None
    from infoscrub.faces.identity import IdentityEmbedder

    return IdentityCheck(IdentityEmbedder(), image_set, faces)


def _throughput(col: Collected, seconds: float, device) -> dict[str, Any]:
    edited = sum(len(r.indices) for r in col.runs.values())
    return {"images_edited": edited, "seconds": seconds,
            "images_per_second": edited / seconds if seconds > 0 else None, "device": str(device)}


def _album(editor, attacker, album, col: Collected, draws: int, seed: int, batch_size: int) -> dict[str, Any]:
    from infoscrub.evaluation.album_attack import evaluate_album

    return {**evaluate_album(editor, attacker, album, list(col.attributes), draws=draws, seed=seed,
                             batch_size=batch_size),
            "data": album.source, "missed": len(album.missed)}


def run_evaluation(editor, attacker, image_set, out: str | Path, attributes: list[str] | None = None,
                   per_attribute: int | None = None, seed: int = 0, batch_size: int = 64,
                   fid_weights: str | Path | None = None, progress: bool = True,
                   checkpoint: str | Path | None = None, adversary: str | Path | None = None,
                   data: dict[str, Any] | None = None,
                   log: Callable[[str], None] | None = None, channels: tuple[str, ...] = (),
                   identity_faces: int | None = None, album: Any = None, album_draws: int = 50,
                   adaptive: Any = None) -> dict[str, Any]:
    """The whole protocol: writes ``metrics.json``, ``report.md`` and figures into ``out``.
    ``identity_faces``: also check identity on that many faces per attribute (needs the
    identity extra). ``album``: faces of known people (``evaluation.people.PeopleFaces``)
    for the multi-photo attacker (``evaluation.album_attack``). ``adaptive``: (training faces,
    ``AdaptiveConfig``) for the attacker who knows infoscrub (``evaluation.adaptive``)."""
    from infoscrub.evaluation.fid import build_fid_inception, resolve_fid_weights
    from infoscrub.evaluation.figures import write_figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = resolve_fid_weights(fid_weights)
    fid_model = build_fid_inception(weights, editor.device) if weights is not None else None
    start = time.perf_counter()
    options = CollectOptions(attributes, per_attribute, seed, batch_size, PATHS, channels, progress=progress)
    col = collect(editor, attacker, image_set, options, fid_model, _identity_check(image_set, identity_faces))
    elapsed = time.perf_counter() - start
    metrics: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "model": model_info(editor, checkpoint),
        "adversary": adversary_info(attacker, adversary),
        "data": {**(data or {}), "split": image_set.split, "n_images": len(image_set),
                 "n_union": col.n_union, "per_attribute": per_attribute, "seed": seed},
        **summarise(col).as_json(),
        "identity_faces": identity_faces or None,
        "obfuscation_available": bool(editor.can_obfuscate),
        "obfuscation_message": None if editor.can_obfuscate else UNAVAILABLE,
        "fid_weights": None if weights is None else str(weights),
        "throughput": _throughput(col, elapsed, editor.device),
    }
    if album is not None:
        album_start = time.perf_counter()
        metrics["album"] = _album(editor, attacker, album, col, album_draws, seed, batch_size)
        metrics["seconds"]["album"] = time.perf_counter() - album_start
    if adaptive is not None:
        from infoscrub.evaluation.adaptive import evaluate_adaptive

        adaptive_start = time.perf_counter()
        train, adaptive_cfg = adaptive
        metrics["adaptive"] = evaluate_adaptive(editor, attacker, train, image_set, list(col.attributes),
                                                adaptive_cfg, out, log=log or (lambda s: None))
        metrics["seconds"]["adaptive"] = time.perf_counter() - adaptive_start
    fig_start = time.perf_counter()
    figures = write_figures(col, out)
    metrics["figures"] = [str(p.relative_to(out)) for p in figures]
    metrics["seconds"]["figures"] = time.perf_counter() - fig_start
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    write_report(metrics, out / "report.md")
    if log is not None:
        log(f"wrote {out / 'report.md'}, {out / 'metrics.json'} and {len(figures)} figures")
    return metrics
