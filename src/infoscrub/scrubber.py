"""The photo pipeline as one object: detect, align, edit, paste back, and report.

    scrubber = Scrubber.load()                       # bundled weights
    image, report = scrubber.scrub(image, attributes=["Male", "Young"], mode="obfuscate")

``image`` may be a ``Photo`` (``infoscrub.photo_io``), a PIL image or an RGB(A) array; the
result has the same type. The report says, per face, where it is, what was edited and what
the attacker infers about every attribute before and after (p(present), entropy in bits),
measured on the face as it appears in the *output* photo.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from infoscrub.attributes import PHRASES, resolve_attributes
from infoscrub.edit_request import MODES, check_edit_request  # noqa: F401  (MODES: for the service)
from infoscrub.errors import InfoscrubError
from infoscrub.entropy import entropy_bits
from infoscrub.faces.align import alignment_matrix, warp_crop
from infoscrub.faces.detect import Face, detect_faces
from infoscrub.faces.paste import DEFAULT_FEATHER, feather_mask, paste_changes
from infoscrub.photo_io import Photo
from infoscrub.sharing import CHANNELS, PHOTO_CHANNELS, share_region
from infoscrub.targeting import Choice, Target, choose_strength

if TYPE_CHECKING:  # torch and the models load only when a Scrubber is built
    import torch

FACE_BATCH = 16  # faces per model call: bounds memory on group photos
# (indices of the faces to edit, their crops) -> their edited crops, float [0, 1] HWC
EditFn = Callable[[list[int], list[np.ndarray]], list[np.ndarray]]
IDENTITY_SIZE = 160  # aligned crops for the identity check: above dlib's 150-px face chip


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


class Scrubber:
    """Edits faces in photos with one loaded ``Editor`` and reports with an ``Attacker``.

    Thread-safe: every call keeps its own state; each thread has its own detector, and the
    models are pure forward passes under inference mode (no state is written), so
    concurrent requests run side by side on separate cores."""

    def __init__(self, editor: Any, attacker: Any | None = None, device: str = "cpu",
                 feather: float = DEFAULT_FEATHER, detector: Any | None = None, identity: Any = False):
        self.editor = editor
        self.attacker = attacker
        self.device = device
        self.feather = feather
        self.detector = detector  # None: the MTCNN of the calling thread
        # the identity check of edited faces: False off, True dlib's embedder of the calling
        # thread (infoscrub.faces.identity), or an object with the same ``embed``
        self.identity = identity

    @classmethod
    def load(cls, path: str | Path | None = None, attacker: str | Path | None = None,
             device: str = "cpu", identity: bool | None = False) -> "Scrubber":
        """The editor from ``path`` (None: bundled weights) and the attacker from
        ``attacker`` (None: the bundled one, or no privacy numbers if none is bundled).
        ``identity``: check that edited faces are still the same person (True: needs the
        identity extra; None: when it is installed)."""
        from infoscrub.faces import identity as faces_identity
        from infoscrub.editors import load_editor
        from infoscrub.inference import Attacker

        if identity is None:
            identity = faces_identity.available()
        elif identity:
            faces_identity.shared_embedder()  # the extra's error now, not on the first face

        editor = load_editor(path, device=device)  # InfoScrub weights or a baseline
        try:
            judge = Attacker.load(attacker, device=device)
        except InfoscrubError:
            if attacker is not None:
                raise
            judge = None
        return cls(editor, judge, device=device, identity=identity)

    @property
    def attributes(self) -> list[str]:
        return list(self.editor.attributes)

    # ------------------------------------------------------------------ public entry

    def scrub(self, image: Any, attributes: str | Sequence[str], mode: str = "invert",
              strength: float = 1.0, faces: str | Sequence[int] | None = None,
              aligned: bool = False, target: Target | None = None) -> tuple[Any, dict]:
        """Edit the chosen ``attributes`` of every face (or the faces numbered in ``faces``,
        left to right from 0). ``aligned=True``: the image is already a face crop in the
        model's convention, so there is no detection. ``target``: instead of ``strength``,
        the smallest strength per face that reaches the goal against the report attacker
        (``infoscrub.targeting``). Returns (edited image, report)."""
        photo, back = as_photo(image)
        edited, report = self.scrub_photo(photo, attributes, mode, strength, faces, aligned, target)
        return back(edited), report

    def scrub_photo(self, photo: Photo, attributes: str | Sequence[str], mode: str = "invert",
                    strength: float = 1.0, faces: str | Sequence[int] | None = None,
                    aligned: bool = False, target: Target | None = None) -> tuple[Photo, dict]:
        chosen = resolve_attributes(attributes, self.editor.attributes)
        strength = check_edit_request(mode, strength)
        wanted = parse_face_indices(faces)
        if target is not None:
            if self.attacker is None:
                raise InfoscrubError("a target strength needs the report attacker (--attacker, or bundled weights)")
            missing = [a for a in chosen if a not in self.attacker.attributes]
            if missing:
                raise InfoscrubError(f"the attacker cannot judge {', '.join(missing)}, so no target strength "
                                     "can be found for it")
            if target.after is not None and target.after not in CHANNELS:
                raise InfoscrubError(f"unknown sharing channel {target.after!r}; choose from {', '.join(CHANNELS)}")
        return self._scrub(photo, chosen, mode, strength, wanted, aligned, target)

    def locate(self, photo: Photo) -> tuple[list[Face], list[np.ndarray], list[np.ndarray]]:
        """(the faces of a photo, left to right; their photo -> crop matrices; their crops,
        float [0, 1] at the model's size), as the pipeline finds and cuts them."""
        found = detect_faces(photo.rgb, self.detector)
        return (found, *self.align(photo, found))

    def align(self, photo: Photo, found: list[Face]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(photo -> crop matrices, crops) of faces found earlier."""
        size = int(self.editor.image_size)
        matrices = [alignment_matrix(f.landmarks, str(self.editor.alignment), size) for f in found]
        return matrices, [self._crop(photo.rgb, m, size) for m in matrices]

    def scrub_found(self, photo: Photo, chosen: list[str], mode: str, strength: float, found: list[Face],
                    wanted: list[int], edit: EditFn, known: list[np.ndarray] | None = None) -> tuple[Photo, dict]:
        """The pipeline on faces already found (``locate``), edited by ``edit`` (an album edits
        each person alike): ``wanted`` numbers the faces to edit; ``known``: their identity
        embeddings by ``identity_embedder()``, when already made (the check then embeds only
        the output)."""
        return self._scrub(photo, chosen, mode, strength, wanted, False, None, detected=found, edit=edit,
                           known=known)

    # ------------------------------------------------------------------ the pipeline

    def _scrub(self, photo: Photo, chosen: list[str], mode: str, strength: float,
               wanted: list[int] | None, aligned: bool, target: Target | None = None,
               detected: list[Face] | None = None, edit: EditFn | None = None,
               known: list[np.ndarray] | None = None) -> tuple[Photo, dict]:
        """The pipeline. ``detected``: the photo's faces, already found; ``edit``: how the
        selected faces' crops are edited (an album edits each person alike), instead of
        ``self._edit``; ``known``: the faces' identity embeddings, already made."""
        size = int(self.editor.image_size)
        alignment = str(self.editor.alignment)
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        if aligned:
            found = [whole_image_face(photo)]
            feather = 0.0  # the crop is the whole image: no seam to hide
        else:
            found = detect_faces(photo.rgb, self.detector) if detected is None else detected
            feather = self.feather
        timings["detect"] = time.perf_counter() - clock
        if wanted and found and max(wanted) >= len(found):
            raise InfoscrubError(f"face {max(wanted)} was asked for but the photo has "
                                 f"{len(found)} face(s), numbered 0-{len(found) - 1}")
        # strength 0 changes nothing: no face is edited (and the report says so)
        selected = [i for i in range(len(found)) if (wanted is None or i in wanted) and strength > 0]

        clock = time.perf_counter()
        if aligned:
            matrices = [aligned_matrix(photo.width, photo.height, alignment, size)]
            crops = [self._crop(photo.rgb, matrices[0], size)]
        else:
            matrices, crops = self.align(photo, found)
        timings["align"] = time.perf_counter() - clock

        clock = time.perf_counter()
        before = self._judge(crops)
        timings["report"] = time.perf_counter() - clock

        clock = time.perf_counter()
        if edit is None:
            edited_crops = self._edit([crops[i] for i in selected], chosen, mode, 1.0 if target else strength)
        else:
            edited_crops = edit(selected, [crops[i] for i in selected])
        timings["model"] = time.perf_counter() - clock
        choices: dict[int, Choice] = {}
        if target is not None and selected:
            clock = time.perf_counter()
            columns = [list(self.attacker.attributes).index(a) for a in chosen]

            def judge(batch: np.ndarray) -> np.ndarray:
                return self._probs(list(batch))[:, columns]

            # the paste fades the change out under a feathered mask: search on what the
            # output will show, then apply the strength to the plain change
            mask = feather_mask(size, feather)[..., None]
            for k, i in enumerate(selected):
                present = np.array([before[i][a] > 0.5 for a in chosen])
                as_pasted = crops[i] + mask * (edited_crops[k] - crops[i])
                choices[i] = choose_strength(judge, crops[i], as_pasted, chosen, present, mode, target)
                edited_crops[k] = crops[i] + choices[i].strength * (edited_crops[k] - crops[i])
            timings["target"] = time.perf_counter() - clock

        clock = time.perf_counter()
        result = photo
        if selected:
            edits = [(crops[i], e, matrices[i]) for i, e in zip(selected, edited_crops)]
            result = replace(photo, rgb=paste_changes(photo.rgb, edits, feather))
        timings["paste"] = time.perf_counter() - clock

        clock = time.perf_counter()
        after, shared = self._judge_output(result.rgb, matrices, size, before if not selected else None)
        timings["report"] += time.perf_counter() - clock

        clock = time.perf_counter()
        kept = self._identity(photo.rgb, result.rgb, [matrices[i] for i in selected], alignment, size,
                              None if known is None else [known[i] for i in selected])
        if kept is not None:
            timings["identity"] = time.perf_counter() - clock

        faces_report = [face_report(i, face, i in selected, chosen, before, after, shared)
                        for i, face in enumerate(found)]
        for i, entry in zip(selected, kept or []):
            faces_report[i]["identity"] = entry
        for i, choice in choices.items():
            faces_report[i]["strength"] = round(choice.strength, 4)
            faces_report[i]["target"] = target_report(faces_report[i], choice, chosen, mode, target)
        report = {
            "mode": mode, "strength": strength, "attributes": chosen,
            "alignment": alignment, "image_size": size, "aligned_input": aligned,
            "attacker": None if self.attacker is None else list(self.attacker.attributes),
            "width": photo.width, "height": photo.height,
            "faces_found": len(found),
            "target": None if target is None else {"goal": target.describe(mode), **asdict(target)},
            "sharing_channels": list(shared),
            "identity_checked": kept is not None,
            "faces": faces_report,
            # plain language for every attribute the report mentions ("wears glasses")
            "phrases": {a: PHRASES[a] for a in (self.attacker.attributes if self.attacker else chosen)
                        if a in PHRASES},
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
        }
        return result, report

    @staticmethod
    def _crop(pixels: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
        """The model-size crop as float [0, 1], cut straight from the integer photo."""
        top = np.float32(1.0 / np.iinfo(pixels.dtype).max)
        return warp_crop(pixels, matrix, size).astype(np.float32) * top

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

    def _judge(self, crops: list[np.ndarray]) -> list[dict[str, float]] | None:
        """The attacker's p(present) per attribute for each crop (None: no attacker)."""
        if self.attacker is None or not crops:
            return None
        names = list(self.attacker.attributes)
        return [{n: float(p) for n, p in zip(names, row)} for row in self._probs(crops)]

    def identity_embedder(self) -> Any | None:
        """The identity check's embedder: the scrubber's own, dlib's of the calling thread
        (``identity=True``), or None when the check is off."""
        if self.identity is True:
            from infoscrub.faces.identity import shared_embedder

            return shared_embedder()
        return self.identity or None

    def _identity(self, before: np.ndarray, after: np.ndarray, matrices: list[np.ndarray], alignment: str,
                  size: int, known: list[np.ndarray] | None = None) -> list[dict[str, Any]] | None:
        """Per edited face: is the face in the output still the same person as in the input?
        dlib's embedding distance between the two, on crops aligned the model's way at
        ``IDENTITY_SIZE``; None when the check is off. ``known``: the input faces' embeddings
        by this embedder, when already made (an album has them)."""
        embedder = self.identity_embedder()
        if embedder is None or not matrices:
            return None
        from infoscrub.faces import identity

        if known is None:
            vectors = embedder.embed(identity_crops(before, matrices, size) + identity_crops(after, matrices, size),
                                     alignment)
            known, vectors = vectors[:len(matrices)], vectors[len(matrices):]
        else:
            vectors = embedder.embed(identity_crops(after, matrices, size), alignment)
        gaps = identity.distances(np.asarray(known), vectors)
        return [{"distance": round(float(d), 4), "same_person": bool(identity.same_person(d)),
                 "threshold": identity.THRESHOLD} for d in gaps]

    def _judge_output(self, rgb: np.ndarray, matrices: list[np.ndarray], size: int,
                      unchanged: list[dict[str, float]] | None
                      ) -> tuple[list[dict[str, float]] | None, dict[str, list[dict[str, float]]]]:
        """(after, after sharing): the attacker's beliefs on each face as it is in the output
        photo (seams and rounding in; ``unchanged`` when nothing was edited), and after the
        photo is shared the two most common ways (JPEG 75; downscaled to 1080 px on the long
        side): does the protection survive the upload? One batched attacker call."""
        if self.attacker is None or not matrices:
            return unchanged, {}
        groups: dict[str, list[np.ndarray]] = {}
        if unchanged is None:
            groups["after"] = [self._crop(rgb, m, size) for m in matrices]
        regions = [crop_footprint(m, size, rgb.shape) for m in matrices]
        for channel in PHOTO_CHANNELS:
            groups[channel] = []
            for matrix, region in zip(matrices, regions):
                pixels, to_shared = share_region(rgb, channel, region)
                to_crop = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_shared)
                groups[channel].append(self._crop(pixels, to_crop[:2], size))
        rows = self._judge([crop for crops in groups.values() for crop in crops])
        judged = {name: rows[k * len(matrices):(k + 1) * len(matrices)] for k, name in enumerate(groups)}
        after = judged.pop("after", unchanged)
        return after, judged


# ---------------------------------------------------------------------- helpers


def to_model(crops: list[np.ndarray], device: str) -> "torch.Tensor":
    """(H, W, 3) float [0, 1] crops -> (B, 3, S, S) in [-1, 1]."""
    import torch

    array = np.stack(crops).transpose(0, 3, 1, 2) * 2.0 - 1.0
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


def from_model(batch: "torch.Tensor") -> list[np.ndarray]:
    array = batch.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    return [np.clip((a + 1.0) * 0.5, 0.0, 1.0).astype(np.float32) for a in array]


def face_report(index: int, face: Face, edited: bool, chosen: list[str],
                before: list[dict[str, float]] | None, after: list[dict[str, float]] | None,
                shared: dict[str, list[dict[str, float]]] | None = None) -> dict:
    entry = {"index": index, **face.to_dict(), "edited": edited,
             "attributes_edited": list(chosen) if edited else []}
    if before is not None and after is not None:
        entry["attacker"] = {
            name: {"p_before": round(p, 4), "p_after": round(after[index][name], 4),
                   "entropy_before_bits": round(entropy_bits(p), 4),
                   "entropy_after_bits": round(entropy_bits(after[index][name]), 4)}
            for name, p in before[index].items()}
    if shared:  # the chosen attributes' beliefs after the photo is shared
        entry["attacker_after_sharing"] = {
            channel: {name: round(rows[index][name], 4) for name in chosen if name in rows[index]}
            for channel, rows in shared.items()}
    return entry


def target_report(entry: dict, choice: Choice, chosen: list[str], mode: str, target: Target) -> dict:
    """The goal, the strength found, and whether the goal holds on the face as it is in the
    output photo (after ``target.after`` when the goal asks for it, JPEG 75 judged on the
    photo as a platform re-encodes it)."""
    final = {a: entry["attacker"][a]["p_after"] for a in chosen}
    if target.after == "jpeg75" and "attacker_after_sharing" in entry:
        final = dict(entry["attacker_after_sharing"]["jpeg75"])
    before = {a: entry["attacker"][a]["p_before"] for a in chosen}
    if mode == "invert":
        reached = all((p < 0.5 - target.margin) if before[a] > 0.5 else (p > 0.5 + target.margin)
                      for a, p in final.items())
    else:
        reached = all(abs(p - 0.5) <= target.tolerance for p in final.values())
    return {"goal": target.describe(mode), "reached": bool(reached), "p_final": final,
            "search_p": {a: round(v, 4) for a, v in choice.p.items()}}


def identity_crops(pixels: np.ndarray, matrices: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The faces under ``matrices`` (made for ``size``-px crops), cut at ``IDENTITY_SIZE``
    for the face-recognition embedding, float [0, 1]."""
    scale = np.diag([IDENTITY_SIZE / size, IDENTITY_SIZE / size, 1.0])
    return [Scrubber._crop(pixels, (scale @ np.vstack([m, [0.0, 0.0, 1.0]]))[:2], IDENTITY_SIZE)
            for m in matrices]


def crop_footprint(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The photo region (x0, y0, x1, y1) a face crop is cut from, with a margin."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(full)[:2]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    points = corners @ inverse.T
    x0, y0 = np.floor(points.min(0)).astype(int) - 16
    x1, y1 = np.ceil(points.max(0)).astype(int) + 16
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


def whole_image_face(photo: Photo) -> Face:
    """An aligned input is one face filling the image: no landmarks were detected."""
    return Face(box=(0.0, 0.0, float(photo.width), float(photo.height)), score=1.0,
                landmarks=np.full((5, 2), np.nan))


def aligned_matrix(width: int, height: int, alignment: str, size: int) -> np.ndarray:
    """Photo -> crop for an image that already is an aligned face: the centre square
    (aligned CelebA is 178x218), scaled to the model size."""
    if alignment == "celebahq" and width != height:
        raise InfoscrubError(f"a {width}x{height} image is not an aligned square crop; "
                             "drop --aligned to detect and align faces in it")
    side = min(width, height)
    scale = size / side
    # pixel centres: crop pixel c covers photo pixels around (c + .5) / scale - .5 + offset
    left, top = (width - side) / 2, (height - side) / 2
    shift = 0.5 * scale - 0.5
    return np.array([[scale, 0.0, shift - left * scale], [0.0, scale, shift - top * scale]])


def as_photo(image: Any) -> tuple[Photo, Any]:
    """Wrap any supported image as a Photo; return a function that converts back."""
    if isinstance(image, Photo):
        return image, lambda p: p
    if isinstance(image, Image.Image):
        mode = image.mode
        has_alpha = "A" in image.getbands()
        array = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
        photo = Photo(rgb=np.ascontiguousarray(array[..., :3]),
                      alpha=array[..., 3].copy() if has_alpha else None,
                      format="PNG", icc_profile=image.info.get("icc_profile"),
                      grayscale=False)

        def back_to_pillow(p: Photo) -> Image.Image:
            joined = p.rgb if p.alpha is None else np.concatenate(
                [p.rgb, p.alpha[..., None]], axis=2)
            out = Image.fromarray(joined, mode="RGBA" if p.alpha is not None else "RGB")
            return out if mode in ("RGB", "RGBA") else out.convert(mode) \
                if mode in ("L", "LA") else out
        return photo, back_to_pillow
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise InfoscrubError(f"expected an (H, W, 3) or (H, W, 4) RGB array, got "
                                 f"shape {image.shape}")
        floating = np.issubdtype(image.dtype, np.floating)
        if not floating and image.dtype not in (np.uint8, np.uint16):
            raise InfoscrubError(f"unsupported pixel type {image.dtype}")
        stored = (np.clip(image, 0, 1) * 65535 + 0.5).astype(np.uint16) if floating else image
        photo = Photo(rgb=np.ascontiguousarray(stored[..., :3]),
                      alpha=stored[..., 3].copy() if image.shape[2] == 4 else None,
                      format="PNG", icc_profile=None, grayscale=False)

        def back_to_array(p: Photo) -> np.ndarray:
            joined = p.rgb if p.alpha is None else np.concatenate(
                [p.rgb, p.alpha[..., None]], axis=2)
            return joined.astype(np.float32) / 65535.0 if floating else joined
        return photo, back_to_array
    raise InfoscrubError(f"cannot scrub a {type(image).__name__}; pass a Photo, PIL image "
                         "or numpy array")


__all__ = ["MODES", "Scrubber", "entropy_bits", "parse_face_indices"]
