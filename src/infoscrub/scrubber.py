"""The photo pipeline as one object: detect, align, edit, paste back, and report.

    scrubber = Scrubber.load()                       # bundled weights
    image, report = scrubber.scrub(image, attributes=["Male", "Young"], mode="obfuscate")

``image`` may be a ``Photo`` (``infoscrub.photo_io``), a PIL image or an RGB(A) array; the
result has the same type. The report (``scrub_report.ScrubReport``, returned as its JSON
dict) says, per face, where it is, what was edited and what the attacker infers about every
attribute before and after (p(present), entropy in bits), measured on the face as it
appears in the *output* photo.

The pipeline is a sequence of stages, each returning a typed value (``LocatedFaces``,
``EditedFaces``, ``Judgements``, the identity checks) and timed under its name in the
report's ``timings_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infoscrub.attributes import PHRASES, resolve_attributes
from infoscrub.edit_request import EditRequest, Randomise, Target
from infoscrub.errors import InfoscrubError
from infoscrub.faces.align import alignment_matrix
from infoscrub.faces.crops import (
    aligned_matrix,
    crop_region,
    cut_crop,
    identity_crops,
    whole_image_face,
)
from infoscrub.faces.detect import Face, detect_faces
from infoscrub.faces.identity import Embedder
from infoscrub.faces.paste import DEFAULT_FEATHER, feather_mask, paste_changes
from infoscrub.photo_io import Photo, as_photo
from infoscrub.scrub_report import (
    Beliefs,
    FaceDraw,
    FaceReport,
    IdentityCheck,
    ScrubReport,
    target_outcome,
)
from infoscrub.sharing import CHANNELS, PHOTO_CHANNELS, share_region
from infoscrub.targeting import Choice, choose_strength

if TYPE_CHECKING:  # torch and the models load only when a Scrubber is built
    import torch

FACE_BATCH = 16  # faces per model call: bounds memory on group photos
# (indices of the faces to edit, their crops) -> their edited crops, float [0, 1] HWC
EditFn = Callable[[list[int], list[np.ndarray]], list[np.ndarray]]


def parse_face_indices(text: str | Sequence[int] | None) -> list[int] | None:
    """'0,2' -> [0, 2]; None means every face."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        indices = [int(str(i).strip()) for i in items if str(i).strip() != ""]
    except ValueError:
        raise InfoscrubError(f"--faces takes face numbers like 0,2, not {text!r}") from None
    if not indices or any(i < 0 for i in indices):
        raise InfoscrubError(f"--faces takes face numbers like 0,2 (from 0), not {text!r}")
    return sorted(set(indices))


# ---------------------------------------------------------------------- stage values


@dataclass
class LocatedFaces:
    """The faces of a photo as the pipeline cuts them, left to right."""

    faces: list[Face]
    matrices: list[np.ndarray]  # photo -> crop, one per face
    crops: list[np.ndarray]  # float [0, 1] at the model's size
    feather: float  # how the paste fades the change out (0: the crop is the whole image)


@dataclass
class EditedFaces:
    selected: list[int]  # the numbers of the faces edited
    crops: list[np.ndarray]  # their edited crops, in that order
    choices: dict[int, Choice] = field(default_factory=dict)  # face number -> its target strength
    drawn: dict[int, FaceDraw] = field(default_factory=dict)  # face number -> what --randomise drew


@dataclass
class Judgements:
    """The report attacker's beliefs, one ``Beliefs`` per face (None: no attacker)."""

    before: list[Beliefs] | None
    after: list[Beliefs] | None
    after_sharing: dict[str, list[Beliefs]]  # sharing channel -> beliefs after it


@dataclass(frozen=True)
class FoundFaces:
    """A photo's faces found earlier (an album read them all first): how to edit them (each
    person alike) and their identity embeddings by the scrubber's embedder (None: the
    check embeds the input faces again)."""

    faces: list[Face]
    edit: EditFn
    embeddings: list[np.ndarray] | None = None


class Timings:
    """Seconds per pipeline stage, in the order the stages first ran; a stage run twice
    (the attacker judges before and after) adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


# ---------------------------------------------------------------------- the scrubber


class Scrubber:
    """Edits faces in photos with one loaded ``Editor`` and reports with an ``Attacker``.

    Thread-safe: every call keeps its own state; each thread has its own detector (and dlib
    embedder), and the models are pure forward passes under inference mode (no state is
    written), so concurrent requests run side by side on separate cores."""

    def __init__(self, editor: Any, attacker: Any | None = None, device: str = "cpu",
                 feather: float = DEFAULT_FEATHER, detector: Any | None = None,
                 identity: Embedder | None = None):
        self.editor = editor
        self.attacker = attacker
        self.device = device
        self.feather = feather
        self.detector = detector  # None: the MTCNN of the calling thread
        self.identity = identity  # the identity check of edited faces (None: off)

    @classmethod
    def load(cls, path: str | Path | None = None, attacker: str | Path | None = None,
             device: str = "cpu", identity: bool | None = False) -> "Scrubber":
        """The editor from ``path`` (None: bundled weights) and the attacker from
        ``attacker`` (None: the bundled one, or no privacy numbers if none is bundled).
        ``identity``: check that edited faces are still the same person (True: needs the
        identity extra; None: when it is installed)."""
        from infoscrub.editors import load_editor
        from infoscrub.faces.identity import embedder_for
        from infoscrub.inference import Attacker

        embedder = embedder_for(identity)
        editor = load_editor(path, device=device)  # InfoScrub weights or a baseline
        try:
            judge = Attacker.load(attacker, device=device)
        except InfoscrubError:
            if attacker is not None:
                raise
            judge = None
        return cls(editor, judge, device=device, identity=embedder)

    @property
    def attributes(self) -> list[str]:
        return list(self.editor.attributes)

    @property
    def size(self) -> int:
        return int(self.editor.image_size)

    @property
    def alignment(self) -> str:
        return str(self.editor.alignment)

    # ------------------------------------------------------------------ public entry

    def scrub(self, image: Any, attributes: str | Sequence[str], mode: str = "invert",
              strength: float = 1.0, faces: str | Sequence[int] | None = None,
              aligned: bool = False, target: Target | None = None,
              randomise: Randomise | None = None) -> tuple[Any, dict]:
        """Edit the chosen ``attributes`` of every face (or the faces numbered in ``faces``,
        left to right from 0). ``aligned=True``: the image is already a face crop in the
        model's convention, so there is no detection. ``target``: instead of ``strength``,
        the smallest strength per face that reaches the goal against the report attacker
        (``infoscrub.targeting``). ``randomise``: part of the edit drawn afresh per face
        (``edit_request.Randomise``). Returns (edited image, report)."""
        photo, back = as_photo(image)
        edited, report = self.scrub_photo(photo, attributes, mode, strength, faces, aligned, target, randomise)
        return back(edited), report

    def scrub_photo(self, photo: Photo, attributes: str | Sequence[str], mode: str = "invert",
                    strength: float = 1.0, faces: str | Sequence[int] | None = None,
                    aligned: bool = False, target: Target | None = None,
                    randomise: Randomise | None = None) -> tuple[Photo, dict]:
        return self.scrub_request(photo, EditRequest(attributes, mode, strength, target, randomise), faces, aligned)

    def scrub_request(self, photo: Photo, request: EditRequest, faces: str | Sequence[int] | None = None,
                      aligned: bool = False) -> tuple[Photo, dict]:
        """``scrub_photo`` with the edit as one ``EditRequest``."""
        request = self.check_request(request)
        edited, report = self._scrub(photo, request, parse_face_indices(faces), aligned)
        return edited, report.to_dict()

    def check_request(self, request: EditRequest) -> EditRequest:
        """The request with its attributes resolved against the model (canonical names) and
        its mode, strength and target checked."""
        chosen = resolve_attributes(request.attributes, self.editor.attributes)
        request = replace(request.checked(), attributes=chosen)
        if request.target is not None:
            self._check_target(chosen, request.target)
        return request

    def _check_target(self, chosen: list[str], target: Target) -> None:
        if self.attacker is None:
            raise InfoscrubError("a target strength needs the report attacker (--attacker, or bundled weights)")
        missing = [a for a in chosen if a not in self.attacker.attributes]
        if missing:
            raise InfoscrubError(f"the attacker cannot judge {', '.join(missing)}, so no target strength "
                                 "can be found for it")
        if target.after is not None and target.after not in CHANNELS:
            raise InfoscrubError(f"unknown sharing channel {target.after!r}; choose from {', '.join(CHANNELS)}")

    def locate(self, photo: Photo) -> LocatedFaces:
        """The faces of a photo, left to right, with their matrices and crops, as the
        pipeline finds and cuts them."""
        return self.align(photo, detect_faces(photo.rgb, self.detector))

    def align(self, photo: Photo, faces: list[Face]) -> LocatedFaces:
        """Matrices and crops of faces found earlier."""
        matrices = [alignment_matrix(f.landmarks, self.alignment, self.size) for f in faces]
        return LocatedFaces(faces, matrices, [cut_crop(photo.rgb, m, self.size) for m in matrices], self.feather)

    def scrub_found(self, photo: Photo, request: EditRequest, wanted: list[int], found: FoundFaces
                    ) -> tuple[Photo, ScrubReport]:
        """The pipeline on faces found earlier, edited by ``found.edit`` (an album edits each
        person alike); ``wanted`` numbers the faces to edit; ``request``: checked
        (``check_request``)."""
        return self._scrub(photo, request, wanted, False, found)

    # ------------------------------------------------------------------ the pipeline

    def _scrub(self, photo: Photo, request: EditRequest, wanted: list[int] | None, aligned: bool,
               found: FoundFaces | None = None) -> tuple[Photo, ScrubReport]:
        """The stages in order, each timed under its name."""
        timings = Timings()
        with timings.stage("detect"):
            faces = self._faces(photo, aligned, found)
        selected = select_faces(len(faces), wanted, request.strength)
        with timings.stage("align"):
            located = self._aligned_input(photo, faces) if aligned else self.align(photo, faces)
        with timings.stage("report"):
            before = self.judge(located.crops)
        with timings.stage("model"):
            edited = self._edit_selected(located, selected, request, found)
        if request.target is not None and selected:
            with timings.stage("target"):
                edited = self._choose_strengths(located, edited, before, request)
        with timings.stage("paste"):
            result = self._paste(photo, located, edited)
        with timings.stage("report"):
            judged = self._judge_output(result.rgb, located, before, unchanged=not selected)
        checks = None
        if self.identity is not None and selected:
            with timings.stage("identity"):
                known = found.embeddings if found is not None else None
                checks = self._check_identity(photo.rgb, result.rgb, [located.matrices[i] for i in selected],
                                              None if known is None else [known[i] for i in selected])
        return result, self._report(photo, request, aligned, located, edited, judged, checks, timings)

    def _faces(self, photo: Photo, aligned: bool, found: FoundFaces | None) -> list[Face]:
        if aligned:
            return [whole_image_face(photo)]
        return detect_faces(photo.rgb, self.detector) if found is None else found.faces

    def _aligned_input(self, photo: Photo, faces: list[Face]) -> LocatedFaces:
        """The image is the face crop: no seam to hide, so no feathering."""
        matrix = aligned_matrix(photo.width, photo.height, self.alignment, self.size)
        return LocatedFaces(faces, [matrix], [cut_crop(photo.rgb, matrix, self.size)], feather=0.0)

    def _edit_selected(self, located: LocatedFaces, selected: list[int], request: EditRequest,
                       found: FoundFaces | None) -> EditedFaces:
        """The selected faces edited; at full strength when a target chooses it per face."""
        crops = [located.crops[i] for i in selected]
        if found is not None:
            return EditedFaces(selected, found.edit(selected, crops))
        strength = 1.0 if request.target is not None else request.strength
        if request.randomise is not None:
            out, drawn = self._edit_randomised(crops, request, strength)
            return EditedFaces(selected, out, drawn=dict(zip(selected, drawn)))
        return EditedFaces(selected, self._edit(crops, list(request.attributes), request.mode, strength))

    def _choose_strengths(self, located: LocatedFaces, edited: EditedFaces, before: list[Beliefs] | None,
                          request: EditRequest) -> EditedFaces:
        """Per selected face, the smallest strength reaching ``request.target``, applied."""
        assert before is not None and request.target is not None  # check_request saw to both
        chosen = list(request.attributes)
        columns = [list(self.attacker.attributes).index(a) for a in chosen]

        def judge(batch: np.ndarray) -> np.ndarray:
            return self._probs(list(batch))[:, columns]

        # the paste fades the change out under a feathered mask: search on what the
        # output will show, then apply the strength to the plain change
        mask = feather_mask(self.size, located.feather)[..., None]
        crops, choices = [], {}
        for i, full in zip(edited.selected, edited.crops):
            crop = located.crops[i]
            present = np.array([before[i][a] > 0.5 for a in chosen])
            as_pasted = crop + mask * (full - crop)
            choices[i] = choose_strength(judge, crop, as_pasted, chosen, present, request.mode, request.target)
            crops.append(crop + choices[i].strength * (full - crop))
        return EditedFaces(edited.selected, crops, choices)

    def _paste(self, photo: Photo, located: LocatedFaces, edited: EditedFaces) -> Photo:
        if not edited.selected:
            return photo
        changes = [(located.crops[i], crop, located.matrices[i]) for i, crop in zip(edited.selected, edited.crops)]
        return replace(photo, rgb=paste_changes(photo.rgb, changes, located.feather))

    def _edit(self, crops: list[np.ndarray], chosen: list[str], mode: str, strength: float
              ) -> list[np.ndarray]:
        if not crops:
            return []
        import torch

        out: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(crops), FACE_BATCH):
                batch = to_model(crops[start:start + FACE_BATCH], self.device)
                edited = self.editor.edit(batch, chosen, mode=mode, strength=strength)
                out.extend(from_model(edited))
        return out

    def _edit_randomised(self, crops: list[np.ndarray], request: EditRequest, strength: float
                         ) -> tuple[list[np.ndarray], list[FaceDraw]]:
        """The crops edited with a strength, further attributes and mixing noise drawn per
        face (``randomised_edit``, the path the adaptive attacker's audit measures)."""
        if not crops:
            return [], []
        import torch

        from infoscrub.randomised_edit import edit_randomised, randomness

        assert request.randomise is not None
        chosen, generator = list(request.attributes), randomness(request.randomise)
        out: list[np.ndarray] = []
        drawn: list[FaceDraw] = []
        with torch.inference_mode():
            for start in range(0, len(crops), FACE_BATCH):
                batch = to_model(crops[start:start + FACE_BATCH], self.device)
                edited, draws = edit_randomised(self.editor, batch, chosen, request.mode, strength,
                                                request.randomise, generator)
                out.extend(from_model(edited))
                for row, s in enumerate(draws.strengths.tolist()):
                    extra = [] if draws.extra is None else [a for a, on in zip(self.editor.attributes,
                                                                               draws.extra[row].tolist()) if on]
                    drawn.append(FaceDraw(s, extra))
        return out, drawn

    def _probs(self, crops: list[np.ndarray]) -> np.ndarray:
        """The attacker's p(present), (N, its attributes), for float [0, 1] crops."""
        import torch
        import torch.nn.functional as F

        size = int(getattr(self.attacker, "image_size", crops[0].shape[0]))
        parts = []
        with torch.inference_mode():
            for start in range(0, len(crops), FACE_BATCH):
                batch = to_model(crops[start:start + FACE_BATCH], self.device)
                if batch.shape[-1] != size:
                    batch = F.interpolate(batch, size=(size, size), mode="bilinear",
                                          antialias=True, align_corners=False)
                parts.append(self.attacker.predict(batch).detach().float().cpu().numpy())
        return np.concatenate(parts)

    def judge(self, crops: list[np.ndarray]) -> list[Beliefs] | None:
        """The attacker's p(present) per attribute for each crop (None: no attacker)."""
        if self.attacker is None or not crops:
            return None
        names = list(self.attacker.attributes)
        return [{n: float(p) for n, p in zip(names, row)} for row in self._probs(crops)]

    def _judge_output(self, rgb: np.ndarray, located: LocatedFaces, before: list[Beliefs] | None,
                      unchanged: bool) -> Judgements:
        """The attacker's beliefs on each face as it is in the output photo (seams and
        rounding in; ``before`` when nothing was edited), and after the photo is shared the
        two most common ways (JPEG 75; downscaled to 1080 px on the long side): does the
        protection survive the upload? One batched attacker call."""
        matrices = located.matrices
        if self.attacker is None or not matrices:
            return Judgements(before, before, {})
        groups: dict[str, list[np.ndarray]] = {}
        if not unchanged:
            groups["after"] = [cut_crop(rgb, m, self.size) for m in matrices]
        for channel in PHOTO_CHANNELS:
            groups[channel] = [self._shared_crop(rgb, channel, m) for m in matrices]
        rows = self.judge([crop for crops in groups.values() for crop in crops])
        judged = {name: rows[k * len(matrices):(k + 1) * len(matrices)] for k, name in enumerate(groups)}
        after = judged.pop("after", before)
        return Judgements(before, after, judged)

    def _shared_crop(self, rgb: np.ndarray, channel: str, matrix: np.ndarray) -> np.ndarray:
        """A face's crop from the photo as ``channel`` delivers it (only its region is shared)."""
        pixels, to_shared = share_region(rgb, channel, crop_region(matrix, self.size, rgb.shape))
        to_crop = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_shared)
        return cut_crop(pixels, to_crop[:2], self.size)

    def _check_identity(self, before: np.ndarray, after: np.ndarray, matrices: list[np.ndarray],
                        known: list[np.ndarray] | None = None) -> list[IdentityCheck]:
        """Per edited face: is the face in the output still the same person as in the input?
        The embedding distance between the two, on crops aligned the model's way at
        ``faces.crops.IDENTITY_SIZE``. ``known``: the input faces' embeddings by this
        embedder, when already made (an album has them)."""
        from infoscrub.faces import identity

        assert self.identity is not None
        output = identity_crops(after, matrices, self.size)
        if known is None:
            vectors = self.identity.embed(identity_crops(before, matrices, self.size) + output, self.alignment)
            known, vectors = vectors[:len(matrices)], vectors[len(matrices):]
        else:
            vectors = self.identity.embed(output, self.alignment)
        gaps = identity.distances(np.asarray(known), vectors)
        return [IdentityCheck(float(d), bool(identity.same_person(d)), identity.THRESHOLD) for d in gaps]

    def _report(self, photo: Photo, request: EditRequest, aligned: bool, located: LocatedFaces,
                edited: EditedFaces, judged: Judgements, checks: list[IdentityCheck] | None,
                timings: Timings) -> ScrubReport:
        chosen = list(request.attributes)
        faces = [face_report(i, face, i in edited.selected, chosen, judged) for i, face in enumerate(located.faces)]
        for i, check in zip(edited.selected, checks or []):
            faces[i].identity = check
        for i, draw in edited.drawn.items():
            faces[i].drawn = draw
        for i, choice in edited.choices.items():
            assert request.target is not None
            faces[i].strength = choice.strength
            faces[i].target = target_outcome(faces[i], choice, chosen, request.mode, request.target)
        attacker = None if self.attacker is None else list(self.attacker.attributes)
        return ScrubReport(
            mode=request.mode, strength=request.strength, attributes=chosen, alignment=self.alignment,
            image_size=self.size, aligned_input=aligned, attacker=attacker, width=photo.width,
            height=photo.height, target=request.target, sharing_channels=list(judged.after_sharing),
            identity_checked=checks is not None, faces=faces, randomise=request.randomise,
            phrases={a: PHRASES[a] for a in (attacker or chosen) if a in PHRASES}, timings_s=timings.seconds)


# ---------------------------------------------------------------------- helpers


def select_faces(count: int, wanted: list[int] | None, strength: float) -> list[int]:
    """The numbers of the faces to edit: those ``wanted`` (None: every face), none at
    strength 0 (it changes nothing, and the report says so)."""
    if wanted and count and max(wanted) >= count:
        raise InfoscrubError(f"face {max(wanted)} was asked for but the photo has "
                             f"{count} face(s), numbered 0-{count - 1}")
    return [i for i in range(count) if (wanted is None or i in wanted) and strength > 0]


def face_report(index: int, face: Face, edited: bool, chosen: list[str], judged: Judgements) -> FaceReport:
    """A face's report before the identity check and the target search add to it; after
    sharing, only the chosen attributes' beliefs."""
    report = FaceReport(index, face, list(chosen) if edited else [])
    if judged.before is not None and judged.after is not None:
        report.before, report.after = judged.before[index], judged.after[index]
    report.after_sharing = {channel: {name: rows[index][name] for name in chosen if name in rows[index]}
                            for channel, rows in judged.after_sharing.items()}
    return report


def to_model(crops: list[np.ndarray], device: str) -> "torch.Tensor":
    """(H, W, 3) float [0, 1] crops -> (B, 3, S, S) in [-1, 1]."""
    import torch

    array = np.stack(crops).transpose(0, 3, 1, 2) * 2.0 - 1.0
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


def from_model(batch: "torch.Tensor") -> list[np.ndarray]:
    array = batch.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    return [np.clip((a + 1.0) * 0.5, 0.0, 1.0).astype(np.float32) for a in array]


__all__ = ["Scrubber", "parse_face_indices"]
