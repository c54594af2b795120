"""The evaluation's one pass over the test images (the protocol's doc says what it does):
``plan_pass`` picks the balanced subsets, ``Judge`` runs the adversary, ``FidTally`` keeps
the Inception statistics and ``collect`` runs the editor over each attribute's subset, batch
by batch, keeping samples (``samples``) and identity distances (``identity_check``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.data.balanced import balanced_indices
from infoscrub.data.batches import to_model_range, to_uint8
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation.collected import PATHS, SHARED_PATHS, AttributeRun, Collected, FidResult
from infoscrub.evaluation.fid import GaussianStats, fid_from_stats, inception_features
from infoscrub.evaluation.identity_check import IdentityCheck
from infoscrub.evaluation.samples import SampleKeeper
from infoscrub.sharing import CHANNELS


@dataclass(frozen=True)
class CollectOptions:
    attributes: list[str] | None = None  # target attributes; None: the editor's
    per_attribute: int | None = None  # images per class in each balanced subset; None: all
    seed: int = 0  # of the balanced subsets
    batch_size: int = 64
    paths: tuple[str, ...] = PATHS  # edit paths; 'obfuscated' is dropped for an editor without a mixer
    # sharing channels (``infoscrub.sharing``) through which the real images and the
    # label-free and obfuscated edits are judged too (``p['real@jpeg75']`` and so on)
    channels: tuple[str, ...] = ()
    samples_per_attribute: int = 4
    progress: bool = True


@dataclass(frozen=True)
class Plan:
    """What the pass judges: the target attributes' balanced subsets and their union."""

    attributes: list[str]
    watch: list[str]  # attributes whose adversary outputs are kept (targets + editor's)
    utility: list[str]  # the editor's attributes the adversary knows
    paths: tuple[str, ...]
    truth: np.ndarray  # bool (N, W): ground truth of the watched attributes
    subsets: dict[str, np.ndarray]  # target attribute -> positions in the image set
    union: np.ndarray  # sorted positions of every image of some subset

    def union_rows(self, indices: np.ndarray) -> np.ndarray:
        """Rows of ``union`` holding these image positions."""
        return np.searchsorted(self.union, indices)


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


def plan_pass(editor, attacker, image_set, options: CollectOptions) -> Plan:
    paths = tuple(p for p in options.paths if p != "obfuscated" or editor.can_obfuscate)
    attrs, watch, utility = _select(editor, attacker, image_set, options.attributes)
    truth = image_set.targets(watch).numpy().astype(bool)
    subsets = {a: balanced_indices(truth[:, watch.index(a)], options.per_attribute, options.seed, key=a)
               for a in attrs}
    for a, idx in subsets.items():
        if len(idx) == 0:
            raise InfoscrubError(f"the {image_set.split} split has no positive or no negative image for {a}; "
                                 "a balanced subset cannot be formed")
    union = np.unique(np.concatenate(list(subsets.values())))
    return Plan(attrs, watch, utility, paths, truth, subsets, union)


class Judge:
    """The adversary's p(present) on the watched attributes of uint8 images, as they are and
    after each sharing channel."""

    def __init__(self, attacker, watch: list[str], channels: tuple[str, ...]):
        self.attacker, self.channels = attacker, channels
        self.columns = [attacker.attributes.index(a) for a in watch]

    def __call__(self, images_u8: torch.Tensor) -> np.ndarray:
        x = to_model_range(images_u8.to(self.attacker.device, non_blocking=True))
        return self.attacker.predict(x)[:, self.columns].float().cpu().numpy()

    def shared(self, images_u8: torch.Tensor) -> dict[str, np.ndarray]:
        cpu = images_u8.cpu()
        return {c: self(CHANNELS[c].apply(cpu)) for c in self.channels}


class FidTally:
    """Inception statistics of the real images and of the photo edits; nothing without a
    FID network (no weights given)."""

    EDITS = ("label_free", "obfuscated")

    def __init__(self, model):
        self.model = model
        self.stats = {"real": GaussianStats()} if model is not None else {}

    def add(self, key: str, images_u8: torch.Tensor) -> None:
        if self.model is not None and (key == "real" or key in self.EDITS):
            self.stats.setdefault(key, GaussianStats()).add(inception_features(self.model, images_u8))

    def result(self, n_real: int) -> FidResult:
        if self.model is None:
            return FidResult(n_real=n_real)
        label_free, obfuscated = self.stats.get("label_free"), self.stats.get("obfuscated")
        return FidResult(value=None if label_free is None else fid_from_stats(label_free, self.stats["real"]),
                         obfuscated=None if obfuscated is None else fid_from_stats(obfuscated, self.stats["real"]),
                         message=None, n_real=n_real, n_edited=0 if label_free is None else label_free.n)


def _chunks(items: np.ndarray, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Pass:
    """One evaluation pass: the adversary over the real images once, then each attribute's
    edits batch by batch."""

    def __init__(self, editor, attacker, image_set, options: CollectOptions, fid_model,
                 identity: IdentityCheck | None):
        from tqdm.auto import tqdm

        self.editor, self.image_set, self.options, self.identity = editor, image_set, options, identity
        self.plan = plan_pass(editor, attacker, image_set, options)
        self.judge = Judge(attacker, self.plan.watch, options.channels)
        self.fid = FidTally(fid_model)
        self.editor_labels = image_set.targets(editor.attributes)  # for the labelled path
        self.seconds: dict[str, float] = {}
        self.identity_seconds = 0.0
        total = len(self.plan.union) + sum(len(i) for i in self.plan.subsets.values())
        self.bar = tqdm(total=total, unit="img", desc="evaluate", disable=not options.progress, dynamic_ncols=True)

    def run(self) -> Collected:
        start = time.perf_counter()
        real, real_shared = self.judge_real()
        self.seconds["adversary_real"] = time.perf_counter() - start
        start = time.perf_counter()
        runs = {a: self.run_attribute(a, real, real_shared) for a in self.plan.attributes}
        self.seconds["edit_and_judge"] = time.perf_counter() - start - self.identity_seconds
        if self.identity is not None:
            self.seconds["identity"] = self.identity_seconds
        self.bar.close()
        start = time.perf_counter()
        fid = self.fid.result(len(self.plan.union))
        if self.fid.model is not None:
            self.seconds["fid"] = time.perf_counter() - start
        plan = self.plan
        return Collected(plan.attributes, plan.watch, plan.utility, list(plan.paths), runs, len(plan.union), fid,
                         self.seconds, tuple(self.options.channels),
                         self.identity.threshold if self.identity is not None else None)

    def judge_real(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The adversary on every image of the union, once for all attributes: p as the
        images are and after each channel."""
        union = self.plan.union
        p = np.zeros((len(union), len(self.plan.watch)), dtype=np.float32)
        shared = {c: np.zeros_like(p) for c in self.options.channels}
        for pos in _chunks(np.arange(len(union)), self.options.batch_size):
            images = self.image_set.images[torch.as_tensor(union[pos])]
            p[pos] = self.judge(images)
            for c, values in self.judge.shared(images).items():
                shared[c][pos] = values
            self.fid.add("real", images)
            self.bar.update(len(pos))
        return p, shared

    def new_run(self, attribute: str, real: np.ndarray, real_shared: dict[str, np.ndarray]) -> AttributeRun:
        """The attribute's run with the real images' p filled in and room for the edits'."""
        plan, idx = self.plan, self.plan.subsets[attribute]
        n, width, rows = len(idx), len(plan.watch), plan.union_rows(idx)
        p = {"real": real[rows]}
        p.update({path: np.zeros((n, width), dtype=np.float32) for path in plan.paths})
        for c in self.options.channels:
            p[f"real@{c}"] = real_shared[c][rows]
            p.update({f"{path}@{c}": np.zeros((n, width), dtype=np.float32)
                      for path in SHARED_PATHS if path in plan.paths})
        return AttributeRun(attribute=attribute, indices=idx, labels=plan.truth[idx, plan.watch.index(attribute)],
                            truth=plan.truth[idx], p=p, l1={path: np.zeros(n, np.float32) for path in plan.paths},
                            psnr={path: np.zeros(n, np.float32) for path in plan.paths})

    def run_attribute(self, attribute: str, real: np.ndarray, real_shared: dict[str, np.ndarray]) -> AttributeRun:
        run = self.new_run(attribute, real, real_shared)
        keeper = SampleKeeper(run.labels, self.options.samples_per_attribute, run.samples)
        for rows in _chunks(np.arange(len(run.indices)), self.options.batch_size):
            self.edit_batch(run, rows, keeper)
            self.bar.update(len(rows))
        return run

    def edit_batch(self, run: AttributeRun, rows: np.ndarray, keeper: SampleKeeper) -> None:
        """Edit the subset's ``rows`` along every path, judge and measure the edits."""
        positions = torch.as_tensor(run.indices[rows])
        images = self.image_set.images[positions]
        x = to_model_range(images.to(self.editor.device, non_blocking=True))
        edits, extras = self.editor.edit_paths(x, run.attribute, self.editor_labels[positions], self.plan.paths)
        if extras["code_agrees"] is not None:
            if run.code_agrees is None:
                run.code_agrees = np.zeros(len(run.indices), dtype=bool)
            run.code_agrees[rows] = extras["code_agrees"].cpu().numpy()
        quantised = {path: to_uint8(img) for path, img in edits.items()}  # as a saved photo would be
        for path, q in quantised.items():
            self.judge_edit(run, rows, path, q, x, extras["labelled_rows"])
        keeper.keep(rows, images, quantised, extras["alpha"])
        if self.identity is not None and rows[0] < self.identity.faces:
            start = time.perf_counter()
            self.identity.measure(run, rows, quantised)
            self.identity_seconds += time.perf_counter() - start

    def judge_edit(self, run: AttributeRun, rows: np.ndarray, path: str, q: torch.Tensor, x: torch.Tensor,
                   labelled_rows: torch.Tensor | None) -> None:
        """The adversary's p, L1 and PSNR of one path's uint8 edits ``q`` of the inputs ``x``."""
        if path == "labelled" and labelled_rows is not None:
            # the same image as the label-free edit wherever the code reads the label right:
            # only the other rows were edited again
            for values in (run.p, run.l1, run.psnr):
                values[path][rows] = values["label_free"][rows]
            rows, x = rows[labelled_rows.cpu().numpy()], x[labelled_rows]
            if len(rows) == 0:
                return
        run.p[path][rows] = self.judge(q)
        if path in SHARED_PATHS:
            for c, values in self.judge.shared(q).items():
                run.p[f"{path}@{c}"][rows] = values
        qm = to_model_range(q.to(x.device))
        run.l1[path][rows] = M.l1(qm, x).cpu().numpy()
        run.psnr[path][rows] = M.psnr(qm, x).cpu().numpy()
        self.fid.add(path, q)


def collect(editor, attacker, image_set, options: CollectOptions = CollectOptions(), fid_model=None,
            identity: IdentityCheck | None = None) -> Collected:
    """Run the editor and the adversary over the balanced subsets (the protocol's doc).
    ``fid_model``: the FID network, or None to skip FID; ``identity``: embed the first faces
    of each subset and their edits."""
    return _Pass(editor, attacker, image_set, options, fid_model, identity).run()
