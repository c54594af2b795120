"""Face crops cut from a photo: the model's crop, the identity check's larger one, the photo
region a crop comes from, and the matrix of an input that already is an aligned face.

A crop is float [0, 1] at a square size, cut under a 2x3 photo -> crop matrix
(``faces.align.alignment_matrix``).
"""

from __future__ import annotations

import numpy as np

from infoscrub.errors import InfoscrubError
from infoscrub.faces.align import warp_crop
from infoscrub.faces.detect import Face
from infoscrub.photo_io import Photo

IDENTITY_SIZE = 160  # aligned crops for the identity check: above dlib's 150-px face chip
SHARING_MARGIN = 16  # photo pixels around a crop's region: context for JPEG blocks and resizing


def cut_crop(pixels: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size``-px crop as float [0, 1], cut straight from the integer photo."""
    top = np.float32(1.0 / np.iinfo(pixels.dtype).max)
    return warp_crop(pixels, matrix, size).astype(np.float32) * top


def identity_crops(pixels: np.ndarray, matrices: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The faces under ``matrices`` (made for ``size``-px crops), cut at ``IDENTITY_SIZE``
    for the face-recognition embedding, float [0, 1]."""
    scale = np.diag([IDENTITY_SIZE / size, IDENTITY_SIZE / size, 1.0])
    return [cut_crop(pixels, (scale @ np.vstack([m, [0.0, 0.0, 1.0]]))[:2], IDENTITY_SIZE)
            for m in matrices]


def crop_region(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The photo region (x0, y0, x1, y1) a face crop is cut from, with ``SHARING_MARGIN``,
    clipped to the photo of ``shape``."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(full)[:2]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    points = corners @ inverse.T
    x0, y0 = np.floor(points.min(0)).astype(int) - SHARING_MARGIN
    x1, y1 = np.ceil(points.max(0)).astype(int) + SHARING_MARGIN
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
