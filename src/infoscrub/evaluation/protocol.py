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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.data.balanced import balanced_indices
from infoscrub.data.batches import to_model_range, to_uint8
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation import report as R
from infoscrub.evaluation.fid import FID_SKIPPED, GaussianStats, fid_from_stats, inception_features
from infoscrub.evaluation.registry import METRICS, register_metric
from infoscrub.sharing import CHANNELS
from infoscrub.storage.files import file_sha256

PATHS = ("label_free", "labelled", "obfuscated")
SHARED_PATHS = ("label_free", "obfuscated")  # the edits a photo gets, judged after sharing too
OBFUSCATION_UNAVAILABLE = ("Obfuscation not evaluated: this model has no Stage II mixer "
                           "(obfuscation needs a stage2 checkpoint).")


# --------------------------------------------------------------------------- collection

@dataclass
class Samples:
    """A few example faces of one attribute for the figures (uint8 images, alpha maps)."""

    labels: list[int] = field(default_factory=list)
    images: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    alpha: list[torch.Tensor] = field(default_factory=list)


@dataclass
class AttributeRun:
    """Everything measured for one target attribute on its balanced subset."""

    attribute: str
    indices: np.ndarray  # positions in the image set
    labels: np.ndarray  # bool (n,): ground truth of the target attribute
    truth: np.ndarray  # bool (n, W): ground truth of the watched attributes
    p: dict[str, np.ndarray]  # 'real' and each path -> (n, W) adversary p(present)
    l1: dict[str, np.ndarray]
    psnr: dict[str, np.ndarray]
    code_agrees: np.ndarray | None = None  # bool (n,): editor's code reads the label right
    samples: Samples = field(default_factory=Samples)
    # embedding distances to the input on the first rows: each edit path, and another
    # person's face ('different_person'); None without an identity check
    identity: dict[str, np.ndarray] | None = None


@dataclass
class Collected:
    attributes: list[str]
    watch: list[str]  # attributes whose adversary outputs are kept (targets + editor's)
    utility_attributes: list[str]  # the editor's attributes the adversary knows
    paths: list[str]
    runs: dict[str, AttributeRun]
    n_union: int
    fid: dict[str, Any]
    seconds: dict[str, float]
    channels: tuple[str, ...] = ()  # sharing channels the edits were also judged after
    identity_threshold: float | None = None  # distance below it: the same person


def _chunks(items: np.ndarray, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _select(editor, attacker, image_set, attributes) -> tuple[list[str], list[str], list[str]]:
    if getattr(attacker, "image_size", editor.image_size) != editor.image_size:
        raise InfoscrubError(f"the adversary works at {attacker.image_size}px, the model at "
                             f"{editor.image_size}px")
    if image_set.size != editor.image_size:
        raise InfoscrubError(f"the images are {image_set.size}px, the model needs {editor.image_size}px")
    attrs = resolve_attributes(attributes if attributes else editor.attributes, editor.attributes)
    for a in attrs:
        if a not in attacker.attributes:
            raise InfoscrubError(f"the adversary has no output for {a}; it knows {', '.join(attacker.attributes)}")
        if a not in image_set.attribute_names:
            raise InfoscrubError(f"the test data has no labels for {a}")
    utility = [a for a in editor.attributes if a in attacker.attributes and a in image_set.attribute_names]
    watch = list(dict.fromkeys(attrs + utility))
    return attrs, watch, utility


def collect(editor, attacker, image_set, attributes: list[str] | None, per_attribute: int | None,
            seed: int = 0, batch_size: int = 64, progress: bool = True,
            paths: tuple[str, ...] = PATHS, fid_model=None, samples_per_attribute: int = 4,
            channels: tuple[str, ...] = (), identity: IdentityCheck | None = None) -> Collected:
    """Run the editor and the adversary over the balanced subsets (see the module doc).

    ``channels``: sharing channels (``infoscrub.sharing``) through which the real images and
    the label-free and obfuscated edits are judged too (``p['real@jpeg75']`` and so on).
    ``identity``: embed the first faces of each subset and their edits (``IdentityCheck``)."""
    from tqdm.auto import tqdm

    paths = tuple(p for p in paths if p != "obfuscated" or editor.can_obfuscate)
    attrs, watch, utility = _select(editor, attacker, image_set, attributes)
    att_cols = [attacker.attributes.index(a) for a in watch]
    truth = image_set.targets(watch).numpy().astype(bool)  # (N, W)
    editor_labels = image_set.targets(editor.attributes)  # (N, n_editor), for the labelled path
    subsets = {a: balanced_indices(truth[:, watch.index(a)], per_attribute, seed, key=a) for a in attrs}
    for a, idx in subsets.items():
        if len(idx) == 0:
            raise InfoscrubError(f"the {image_set.split} split has no positive or no negative image for {a}; "
                                 "a balanced subset cannot be formed")
    union = np.unique(np.concatenate(list(subsets.values())))
    where = {int(i): k for k, i in enumerate(union)}
    total = len(union) + sum(len(i) for i in subsets.values())
    bar = tqdm(total=total, unit="img", desc="evaluate", disable=not progress, dynamic_ncols=True)
    seconds: dict[str, float] = {}
    fid_sets = {"real": GaussianStats()} if fid_model is not None else {}

    def judge(images_u8: torch.Tensor) -> np.ndarray:
        x = to_model_range(images_u8.to(attacker.device, non_blocking=True))
        return attacker.predict(x)[:, att_cols].float().cpu().numpy()

    def judge_shared(images_u8: torch.Tensor) -> dict[str, np.ndarray]:
        cpu = images_u8.cpu()
        return {c: judge(CHANNELS[c].apply(cpu)) for c in channels}

    # 1. the adversary on the real images, once for every attribute
    start = time.perf_counter()
    p_union = np.zeros((len(union), len(watch)), dtype=np.float32)
    p_union_shared = {c: np.zeros_like(p_union) for c in channels}
    for pos in _chunks(np.arange(len(union)), batch_size):
        images = image_set.images[torch.as_tensor(union[pos])]
        p_union[pos] = judge(images)
        for c, p in judge_shared(images).items():
            p_union_shared[c][pos] = p
        if fid_model is not None:
            fid_sets["real"].add(inception_features(fid_model, images))
        bar.update(len(pos))
    seconds["adversary_real"] = time.perf_counter() - start

    # 2. edits per target attribute
    start = time.perf_counter()
    runs: dict[str, AttributeRun] = {}
    identity_seconds = 0.0
    for a in attrs:
        idx = subsets[a]
        n, t = len(idx), watch.index(a)
        run = AttributeRun(
            attribute=a, indices=idx, labels=truth[idx, t], truth=truth[idx],
            p={"real": p_union[[where[int(i)] for i in idx]]},
            l1={p: np.zeros(n, np.float32) for p in paths}, psnr={p: np.zeros(n, np.float32) for p in paths})
        for p in paths:
            run.p[p] = np.zeros((n, len(watch)), dtype=np.float32)
        rows_in_union = [where[int(i)] for i in idx]
        for c in channels:
            run.p[f"real@{c}"] = p_union_shared[c][rows_in_union]
            for p in SHARED_PATHS:
                if p in paths:
                    run.p[f"{p}@{c}"] = np.zeros((n, len(watch)), dtype=np.float32)
        agrees = np.zeros(n, dtype=bool)
        have_agrees = False
        pos_rows = np.flatnonzero(run.labels)[: samples_per_attribute - samples_per_attribute // 2]
        neg_rows = np.flatnonzero(~run.labels)[: samples_per_attribute // 2]
        sample_rows = set(pos_rows.tolist()) | set(neg_rows.tolist())
        for rows in _chunks(np.arange(n), batch_size):
            images = image_set.images[torch.as_tensor(idx[rows])]
            x = to_model_range(images.to(editor.device, non_blocking=True))
            labels = editor_labels[torch.as_tensor(idx[rows])]
            edits, extras = editor.edit_paths(x, a, labels, paths)
            if extras["code_agrees"] is not None:
                agrees[rows] = extras["code_agrees"].cpu().numpy()
                have_agrees = True
            quantised: dict[str, torch.Tensor] = {}
            for path, img in edits.items():
                q = to_uint8(img)
                quantised[path] = q
                sub, x_ref = rows, x
                if path == "labelled" and extras["labelled_rows"] is not None:
                    # the same image as the label-free edit wherever the readings agree
                    run.p[path][rows] = run.p["label_free"][rows]
                    run.l1[path][rows] = run.l1["label_free"][rows]
                    run.psnr[path][rows] = run.psnr["label_free"][rows]
                    sub = rows[extras["labelled_rows"].cpu().numpy()]
                    x_ref = x[extras["labelled_rows"]]
                    if len(sub) == 0:
                        continue
                run.p[path][sub] = judge(q)
                if path in SHARED_PATHS:
                    for c, p in judge_shared(q).items():
                        run.p[f"{path}@{c}"][sub] = p
                qm = to_model_range(q.to(x.device))
                run.l1[path][sub] = M.l1(qm, x_ref).cpu().numpy()
                run.psnr[path][sub] = M.psnr(qm, x_ref).cpu().numpy()
                if fid_model is not None and path in ("label_free", "obfuscated"):
                    fid_sets.setdefault(path, GaussianStats()).add(inception_features(fid_model, q))
            for k, row in enumerate(rows.tolist()):
                if row in sample_rows:
                    _keep_sample(run.samples, k, int(run.labels[row]), images, quantised, extras)
            if identity is not None and rows[0] < identity.faces:
                clock = time.perf_counter()
                identity.measure(run, rows, images, quantised, idx, image_set.alignment)
                identity_seconds += time.perf_counter() - clock
            bar.update(len(rows))
        run.code_agrees = agrees if have_agrees else None
        runs[a] = run
    seconds["edit_and_judge"] = time.perf_counter() - start - identity_seconds
    if identity is not None:
        seconds["identity"] = identity_seconds
    bar.close()

    fid: dict[str, Any] = {"value": None, "obfuscated": None, "message": FID_SKIPPED,
                           "n_real": len(union), "n_edited": 0}
    if fid_model is not None:
        start = time.perf_counter()
        fid["message"] = None
        if "label_free" in fid_sets:
            fid["value"] = fid_from_stats(fid_sets["label_free"], fid_sets["real"])
            fid["n_edited"] = fid_sets["label_free"].n
        if "obfuscated" in fid_sets:
            fid["obfuscated"] = fid_from_stats(fid_sets["obfuscated"], fid_sets["real"])
        seconds["fid"] = time.perf_counter() - start
    return Collected(attrs, watch, utility, list(paths), runs, len(union), fid, seconds, tuple(channels),
                     identity.threshold if identity is not None else None)


class IdentityCheck:
    """Face-recognition distances between the first ``faces`` images of each attribute's
    subset and their edits (label-free inversion, obfuscation), and to another person's
    image. The image set has no identities (CelebA-HQ), so 'another person' is the next
    image of the set: CelebA-HQ's 30,000 images show about 6,000 people, so such a pair is
    almost always two people. Originals are embedded once across attributes."""

    def __init__(self, embedder, image_set, faces: int = 100, threshold: float | None = None):
        from infoscrub.faces.identity import THRESHOLD

        self.embedder, self.image_set, self.faces = embedder, image_set, faces
        self.threshold = THRESHOLD if threshold is None else threshold
        self.cache: dict[int, np.ndarray] = {}

    def originals(self, indices: np.ndarray) -> np.ndarray:
        missing = [int(i) for i in indices if int(i) not in self.cache]
        if missing:
            images = self.image_set.images[torch.as_tensor(missing)].permute(0, 2, 3, 1).cpu().numpy()
            for i, e in zip(missing, self.embedder.embed(images, self.image_set.alignment)):
                self.cache[i] = e
        return np.stack([self.cache[int(i)] for i in indices])

    def measure(self, run: AttributeRun, rows: np.ndarray, images: torch.Tensor,
                quantised: dict[str, torch.Tensor], idx: np.ndarray, alignment: str) -> None:
        from infoscrub.faces.identity import distances

        keep = rows < self.faces
        rows = rows[keep]
        if run.identity is None:
            n = min(self.faces, len(run.indices))
            run.identity = {key: np.zeros(n, np.float32) for key in ("different_person", *SHARED_PATHS)
                            if key == "different_person" or key in quantised}
        mine = self.originals(idx[rows])
        others = self.originals((idx[rows] + 1) % len(self.image_set))
        run.identity["different_person"][rows] = distances(mine, others)
        for path in SHARED_PATHS:
            if path in quantised:
                edited = quantised[path][torch.as_tensor(keep)].permute(0, 2, 3, 1).cpu().numpy()
                run.identity[path][rows] = distances(mine, self.embedder.embed(edited, alignment))


def _keep_sample(samples: Samples, k: int, label: int, images, quantised, extras) -> None:
    samples.labels.append(label)
    samples.images.setdefault("input", []).append(images[k].cpu())
    for path in ("label_free", "obfuscated"):
        if path in quantised:
            samples.images.setdefault(path, []).append(quantised[path][k].cpu())
    if extras["alpha"] is not None:
        samples.alpha.append(extras["alpha"][k, 0].float().cpu())


# --------------------------------------------------------------------------- metrics
# Each metric: one function registered with its report section (evaluation/registry.py).


@register_metric("inversion", report=R.inversion_sections)
def inversion_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """{real, label_free, labelled}: each {all, correct} -> tpr/tnr/acc (fractions)."""
    correct = (run.p["real"][:, t] > 0.5) == run.labels
    out: dict[str, Any] = {}
    for key in ["real"] + [p for p in col.paths if p in ("label_free", "labelled")]:
        pred = run.p[key][:, t] > 0.5
        out[key] = {"all": M.inversion_rates(pred, run.labels),
                    "correct": M.inversion_rates(pred[correct], run.labels[correct])}
    out["n_correct"] = int(correct.sum())
    return out


@register_metric("obfuscation", needs=("obfuscated",), report=R.obfuscation_section)
def obfuscation_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Entropy (bits) and p(present) before ('real') / after ('ours') / 'gain', by group.

    Gains follow the paper's Table 4: entropy gain = ours - real; p gain = movement toward
    0.5, i.e. real - ours for the Positive group and ours - real for the Negative one."""
    before, after = run.p["real"][:, t], run.p["obfuscated"][:, t]
    h_before = M.entropy_bits(torch.from_numpy(before)).numpy()
    h_after = M.entropy_bits(torch.from_numpy(after)).numpy()
    out: dict[str, Any] = {}
    for group, sel, sign in (("positive", run.labels, -1.0), ("negative", ~run.labels, 1.0),
                             ("all", np.ones_like(run.labels), None)):
        if not sel.any():
            out[group] = {"n": 0, "entropy": None, "p": None}
            continue
        hb, ha = float(h_before[sel].mean()), float(h_after[sel].mean())
        pb, pa = float(before[sel].mean()), float(after[sel].mean())
        out[group] = {
            "n": int(sel.sum()),
            "entropy": {"real": hb, "ours": ha, "gain": ha - hb},
            "p": {"real": pb, "ours": pa, "gain": None if sign is None else sign * (pa - pb)},
        }
    return out


@register_metric("utility", report=R.utility_section)
def utility_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Adversary accuracy on the editor's attributes that were not edited."""
    others = [a for a in col.utility_attributes if a != run.attribute]
    out: dict[str, Any] = {"attributes": others}
    if not others:
        out.update({k: None for k in ["real"] + col.paths})
        return out
    cols = [col.watch.index(a) for a in others]
    truth = run.truth[:, cols]
    for key in ["real"] + col.paths:
        out[key] = M.accuracy(run.p[key][:, cols] > 0.5, truth)
    return out


@register_metric("identity", report=R.identity_section)
def identity_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any] | None:
    """Still the same person? Per edit path (and for another person's face, the baseline):
    the share of faces verified as the input's person and the mean embedding distance;
    null without ``evaluate --identity``."""
    if run.identity is None:
        return None
    out: dict[str, Any] = {"n": int(len(run.identity["different_person"])), "threshold": col.identity_threshold}
    for key, d in run.identity.items():
        out[key] = {"verified": float((d < col.identity_threshold).mean()), "distance": float(d.mean())}
    return out


@register_metric("fidelity", report=R.fidelity_section)
def fidelity_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """Mean L1 and PSNR of each edit path to its input."""
    return {p: {"l1": float(run.l1[p].mean()), "psnr": float(run.psnr[p].mean())} for p in col.paths}


@register_metric("adversary", report=R.adversary_section)
def adversary_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any]:
    """The adversary's accuracy and calibration on the unedited balanced subset."""
    return {"accuracy": M.accuracy(run.p["real"][:, t] > 0.5, run.labels),
            "ece": M.expected_calibration_error(run.p["real"][:, t], run.labels)}


@register_metric("reshare", report=R.reshare_section)
def reshare_summary(run: AttributeRun, col: Collected, t: int) -> dict[str, Any] | None:
    """Per sharing channel: the adversary's accuracy on the shared originals, the label-free
    inversion rates (the 'correct' subset is the unshared one: images it got right before
    editing and sharing) and the entropy after obfuscation; null without channels."""
    if not col.channels:
        return None
    correct = (run.p["real"][:, t] > 0.5) == run.labels
    out: dict[str, Any] = {}
    for c in col.channels:
        real = run.p[f"real@{c}"][:, t]
        entry: dict[str, Any] = {"real_accuracy": M.accuracy(real > 0.5, run.labels)}
        if f"label_free@{c}" in run.p:
            pred = run.p[f"label_free@{c}"][:, t] > 0.5
            entry["inversion"] = {"all": M.inversion_rates(pred, run.labels),
                                  "correct": M.inversion_rates(pred[correct], run.labels[correct])}
        if f"obfuscated@{c}" in run.p:
            after = run.p[f"obfuscated@{c}"][:, t]
            entry["entropy"] = {"real": float(M.entropy_bits(torch.from_numpy(real)).mean()),
                                "ours": float(M.entropy_bits(torch.from_numpy(after)).mean())}
        out[c] = entry
    return out


@register_metric("code_accuracy")  # reported in the adversary's section
def code_accuracy(run: AttributeRun, col: Collected, t: int) -> float | None:
    """Share of images whose sensitive code reads the label right (InfoScrub editors only)."""
    return None if run.code_agrees is None else float(run.code_agrees.mean())


def attribute_summary(col: Collected, attribute: str) -> dict[str, Any]:
    run = col.runs[attribute]
    t = col.watch.index(attribute)
    entry: dict[str, Any] = {"n": int(len(run.indices)), "n_pos": int(run.labels.sum()),
                             "n_neg": int((~run.labels).sum())}
    for metric in METRICS.values():
        available = all(path in col.paths for path in metric.needs)
        entry[metric.name] = metric.compute(run, col, t) if available else None
    return entry


def mean_tree(entries: list[Any]) -> Any:
    """Mean over attributes, leaf by leaf (None-skipping); counts and name lists dropped."""
    first = next((e for e in entries if e is not None), None)
    if isinstance(first, dict):
        out = {}
        for key in first:
            if key == "n" or key.startswith("n_") or key == "attributes":
                continue
            out[key] = mean_tree([e.get(key) if isinstance(e, dict) else None for e in entries])
        return out
    if first is None or isinstance(first, (int, float)):
        return M.mean_or_none(e for e in entries if isinstance(e, (int, float)))
    return None


def summarise(col: Collected) -> dict[str, Any]:
    per = {a: attribute_summary(col, a) for a in col.attributes}
    mean = mean_tree(list(per.values()))
    privacy = mean["inversion"]["label_free"]["correct"]["acc"] if "label_free" in col.paths else None
    utility = mean["utility"].get("label_free") if "label_free" in col.paths else None
    return {
        "attributes": list(col.attributes),
        "paths": list(col.paths),
        "per_attribute": per,
        "mean": mean,
        # Paper Table 3: privacy = mean Acc after inversion on the images the adversary got
        # right (the mean of Table A1's Acc row is the paper's 0.155); utility = mean
        # accuracy on the non-target attributes after inversion. Label-free path.
        "privacy": privacy,
        "privacy_all": mean["inversion"]["label_free"]["all"]["acc"] if "label_free" in col.paths else None,
        # the same privacy after each sharing channel ({} without --reshare)
        "privacy_shared": {c: R.metric_at(mean, "reshare", c, "inversion", "correct", "acc") for c in col.channels},
        "utility": utility,
        "fid": col.fid["value"],
        "fid_info": dict(col.fid),
        "seconds": dict(col.seconds),
    }


# --------------------------------------------------------------------------- entry points

def evaluate_inversion(editor, attacker, image_set, attributes: list[str] | None, per_attribute: int | None,
                       seed: int = 0, batch_size: int = 64, progress: bool = False,
                       labelled: bool = True, channels: tuple[str, ...] = ()) -> dict[str, Any]:
    """Inversion (paper Tables 1/A1/2/3) of each target attribute on its balanced subset.

    Returns the summary of ``summarise`` without obfuscation: keys 'privacy' (mean Acc of the
    adversary on the target attributes after label-free inversion, on the images it got
    right before: the paper's Table 3 privacy), 'privacy_all' (same on the whole balanced
    subsets), 'utility' (mean accuracy on the non-target attributes after inversion),
    'per_attribute', 'mean', 'fid' (None).
    """
    paths = ("label_free", "labelled") if labelled else ("label_free",)
    col = collect(editor, attacker, image_set, attributes, per_attribute, seed, batch_size, progress, paths,
                  channels=channels)
    return summarise(col)


def evaluate_obfuscation(editor, attacker, image_set, attributes: list[str] | None,
                         per_attribute: int | None, seed: int = 0, batch_size: int = 64,
                         progress: bool = False) -> dict[str, Any]:
    """Obfuscation (paper Tables 4/A2); {'available': False, 'message': ...} without a mixer."""
    if not editor.can_obfuscate:
        return {"available": False, "message": OBFUSCATION_UNAVAILABLE}
    col = collect(editor, attacker, image_set, attributes, per_attribute, seed, batch_size, progress,
                  ("obfuscated",))
    summary = summarise(col)
    return {"available": True, "attributes": summary["attributes"],
            "per_attribute": {a: e["obfuscation"] for a, e in summary["per_attribute"].items()},
            "mean": summary["mean"]["obfuscation"]}


def model_info(editor, checkpoint: str | Path | None = None) -> dict[str, Any]:
    info = getattr(editor, "info", None) or {}
    config = info.get("config") or {}
    variant = config.get("variant")
    return {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "kind": info.get("kind", type(editor).__name__),
        "variant": variant,
        "steps": info.get("step"),
        "attributes": list(editor.attributes),
        "alignment": editor.alignment,
        "image_size": editor.image_size,
        "can_obfuscate": bool(editor.can_obfuscate),
    }


def run_evaluation(editor, attacker, image_set, out: str | Path, attributes: list[str] | None = None,
                   per_attribute: int | None = None, seed: int = 0, batch_size: int = 64,
                   fid_weights: str | Path | None = None, progress: bool = True,
                   checkpoint: str | Path | None = None, adversary: str | Path | None = None,
                   data: dict[str, Any] | None = None,
                   log: Callable[[str], None] | None = None, channels: tuple[str, ...] = (),
                   identity_faces: int | None = None, album: Any = None, album_draws: int = 50
                   ) -> dict[str, Any]:
    """The whole protocol: writes ``metrics.json``, ``report.md`` and figures into ``out``.
    ``identity_faces``: also check identity on that many faces per attribute (needs the
    identity extra). ``album``: faces of known people (``evaluation.people.PeopleFaces``)
    for the multi-photo attacker (``evaluation.album_attack``)."""
    import json

    from infoscrub.evaluation.fid import build_fid_inception, resolve_fid_weights
    from infoscrub.evaluation.figures import write_figures
    from infoscrub.evaluation.report import FORMAT, VERSION, write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = resolve_fid_weights(fid_weights)
    fid_model = build_fid_inception(weights, editor.device) if weights is not None else None
    start = time.perf_counter()
    identity = None
    if identity_faces:
        from infoscrub.faces.identity import IdentityEmbedder

        identity = IdentityCheck(IdentityEmbedder(), image_set, identity_faces)
    col = collect(editor, attacker, image_set, attributes, per_attribute, seed, batch_size, progress,
                  PATHS, fid_model, channels=channels, identity=identity)
    elapsed = time.perf_counter() - start
    summary = summarise(col)
    n_edited = sum(len(r.indices) for r in col.runs.values())
    metrics: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "model": model_info(editor, checkpoint),
        "adversary": {"checkpoint": None if adversary is None else str(adversary),
                      # the same file named two ways is one adversary (compare checks this)
                      "sha256": None if adversary is None else file_sha256(adversary),
                      "attributes": len(attacker.attributes)},
        "data": {**(data or {}), "split": image_set.split, "n_images": len(image_set),
                 "n_union": col.n_union, "per_attribute": per_attribute, "seed": seed},
        **summary,
        "identity_faces": identity_faces or None,
        "obfuscation_available": bool(editor.can_obfuscate),
        "obfuscation_message": None if editor.can_obfuscate else OBFUSCATION_UNAVAILABLE,
        "fid_weights": None if weights is None else str(weights),
        "throughput": {"images_edited": n_edited, "seconds": elapsed,
                       "images_per_second": n_edited / elapsed if elapsed > 0 else None,
                       "device": str(editor.device)},
    }
    if album is not None:
        from infoscrub.evaluation.album_attack import evaluate_album

        album_start = time.perf_counter()
        metrics["album"] = {**evaluate_album(editor, attacker, album, list(col.attributes), draws=album_draws,
                                             seed=seed, batch_size=batch_size),
                            "data": album.source, "missed": len(album.missed)}
        metrics["seconds"]["album"] = time.perf_counter() - album_start
    fig_start = time.perf_counter()
    figures = write_figures(col, out)
    metrics["figures"] = [str(p.relative_to(out)) for p in figures]
    metrics["seconds"]["figures"] = time.perf_counter() - fig_start
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    write_report(metrics, out / "report.md")
    if log is not None:
        log(f"wrote {out / 'report.md'}, {out / 'metrics.json'} and {len(figures)} figures")
    return metrics
