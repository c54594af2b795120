"""Who is this? A face-recognition embedding of aligned faces, run offline.

dlib's ResNet face-recognition model (128-d embeddings; two faces are the same person when
their distance is below 0.6, the model's standard threshold) with dlib's 5-point landmark
model, as shipped by the ``face-recognition-models`` package and run by ``dlib-bin``: the
optional extra ``infoscrub[identity]``. Both model files were released into the public
domain by their author (Davis King, github.com/davisking/dlib-models); the package's
68-point landmark model is trained on iBUG 300-W, whose licence excludes commercial use,
and is never loaded.

Faces come in as aligned crops (the project's conventions, any size): the landmark model
starts from a fixed face box in the crop (``FACE_BOX``), measured as the median box of
dlib's own HOG detector on aligned faces (``benchmarks/identity.py`` prints it), so no
detector runs. ``group_faces`` clusters embeddings into people (average linkage).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from infoscrub.errors import InfoscrubError

THRESHOLD = 0.6  # dlib's: distance below it = the same person (99.38% on LFW by its author)
# the face box (x0, y0, x1, y1) as fractions of an aligned crop, per alignment convention:
# the median of dlib's HOG detector over the CelebA sample faces aligned that way at 256 px
FACE_BOX = {"celebahq": (0.1758, 0.3047, 0.7578, 0.8906), "celeba": (0.2539, 0.3633, 0.7383, 0.8906)}
MODEL_FILES = {"landmarks": "shape_predictor_5_face_landmarks.dat",
               "recognition": "dlib_face_recognition_resnet_model_v1.dat"}
# the clustering holds every pairwise distance: 10,000 faces are 400 MB of them
MAX_GROUP_FACES = 10_000
MISSING = "identity checks need the extra: pip install 'infoscrub[identity]' (dlib-bin, face-recognition-models)"


def models_dir() -> Path:
    """Where ``face-recognition-models`` keeps its files (found without importing it: its
    ``__init__`` needs ``pkg_resources``, which new setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InfoscrubError(MISSING)
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def available() -> bool:
    try:
        models_dir()
        return importlib.util.find_spec("dlib") is not None
    except InfoscrubError:
        return False


class Embedder(Protocol):
    """What the identity check and the album grouping need: (N, 128) embeddings of aligned
    crops (float [0, 1] or uint8) in the ``alignment`` convention."""

    def embed(self, crops: np.ndarray | list[np.ndarray], alignment: str) -> np.ndarray: ...


class IdentityEmbedder:
    """The two dlib models, loaded once. Not thread-safe (dlib's network keeps buffers):
    use ``shared_embedder()`` for one per thread."""

    def __init__(self, folder: Path | None = None):
        try:
            import dlib
        except ImportError:
            raise InfoscrubError(MISSING) from None
        folder = folder or models_dir()
        paths = {key: folder / name for key, name in MODEL_FILES.items()}
        for path in paths.values():
            if not path.is_file():
                raise InfoscrubError(f"{path} is missing: reinstall the extra ({MISSING})")
        self._dlib = dlib
        self.landmarks = dlib.shape_predictor(str(paths["landmarks"]))
        self.recognition = dlib.face_recognition_model_v1(str(paths["recognition"]))

    def embed(self, crops: np.ndarray | list[np.ndarray], alignment: str) -> np.ndarray:
        """(N, 128) float32 embeddings of aligned crops: uint8 (N, S, S, 3) or float in [0, 1]."""
        if alignment not in FACE_BOX:
            raise InfoscrubError(f"no identity face box for the {alignment!r} alignment")
        out = np.zeros((len(crops), 128), dtype=np.float32)
        for k, crop in enumerate(crops):
            pixels = as_uint8(crop)
            height, width = pixels.shape[:2]
            x0, y0, x1, y1 = FACE_BOX[alignment]
            box = self._dlib.rectangle(round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height))
            shape = self.landmarks(pixels, box)
            out[k] = np.asarray(self.recognition.compute_face_descriptor(pixels, shape), dtype=np.float32)
        return out


def as_uint8(crop: np.ndarray) -> np.ndarray:
    if crop.dtype != np.uint8:
        crop = (np.clip(crop, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(crop[..., :3])


_embedders = threading.local()


def shared_embedder() -> IdentityEmbedder:
    """One embedder per thread (loading takes about a second; each instance runs one face at
    a time)."""
    embedder = getattr(_embedders, "embedder", None)
    if embedder is None:
        embedder = _embedders.embedder = IdentityEmbedder()
    return embedder


class PerThreadEmbedder:
    """dlib's embedder of the calling thread (``shared_embedder``): one object that a
    thread-safe ``Scrubber`` can hold."""

    def embed(self, crops: np.ndarray | list[np.ndarray], alignment: str) -> np.ndarray:
        return shared_embedder().embed(crops, alignment)


def embedder_for(wanted: bool | None) -> Embedder | None:
    """The identity check's embedder as the command line asks for it: True dlib's (the
    extra's error now, not on the first face), None dlib's when the extra is installed,
    False none."""
    if wanted is None:
        wanted = available()
    elif wanted:
        shared_embedder()
    return PerThreadEmbedder() if wanted else None


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances between two (N, 128) sets of embeddings."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)


def same_person(distance: float | np.ndarray, threshold: float = THRESHOLD):
    return distance < threshold


def check_threshold(threshold: float, name: str = "the grouping threshold") -> float:
    """A grouping threshold is a distance between embeddings on the unit sphere: in (0, 2)."""
    if not 0 < threshold < 2:
        raise InfoscrubError(f"{name} is a face-recognition distance between 0 and 2 (default {THRESHOLD}), "
                             f"not {threshold}")
    return threshold


def group_faces(embeddings: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """People: (N,) group numbers 0, 1, ... (in order of first appearance) from average-linkage
    clustering cut at ``threshold``. Average linkage keeps a person together across varied
    photos without chaining two look-alikes through a third (single linkage) or splitting a
    person whose photos differ most (complete linkage); on the 34-person CelebA sample aligned
    the celebahq way, at 0.6: purity 0.934, completeness 0.961 (``benchmarks/identity.py``)."""
    n = len(embeddings)
    if n > MAX_GROUP_FACES:
        raise InfoscrubError(f"{n} faces are too many to group into people at once (at most {MAX_GROUP_FACES:,}); "
                             "scrub the collection as several albums")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    clusters = fcluster(linkage(pdist(np.asarray(embeddings, np.float64)), method="average"),
                        threshold, criterion="distance")
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(c), len(order)) for c in clusters], dtype=np.int64)
