"""Carry an edit from the model crop back into the full-resolution photo.

Only the *change* travels: (edited crop - original crop) is warped back by the inverse
alignment and added to the photo under a feathered mask. Everything the model did not
touch keeps the photo's own detail and resolution; the crop's blur never reaches it.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_FEATHER = 0.12  # fraction of the crop side over which the edit fades out


def feather_mask(size: int, feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """(size, size) float32: 1 inside, easing to 0 at the crop border (smoothstep ramp)."""
    if feather <= 0:
        return np.ones((size, size), dtype=np.float32)
    centres = np.arange(size, dtype=np.float32) + 0.5
    edge = np.minimum(centres, size - centres) / (feather * size)
    ramp = np.clip(edge, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    return np.minimum(ramp[:, None], ramp[None, :])


def crop_footprint(matrix: np.ndarray, size: int, height: int, width: int
                   ) -> tuple[int, int, int, int] | None:
    """Photo-pixel bounding box (x1, y1, x2, y2) of the crop square, clipped; None if off."""
    inverse = cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]]) @ inverse.T
    x1, y1 = np.floor(corners.min(axis=0)).astype(int) - 1
    x2, y2 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def paste_change(photo: np.ndarray, original_crop: np.ndarray, edited_crop: np.ndarray,
                 matrix: np.ndarray, feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """Add the warped-back change to ``photo`` (float32 (H, W, 3), edited in place).

    ``matrix`` takes photo pixels to crop pixels (as ``alignment_matrix`` returns). The
    photo is not clipped here so several faces' changes add up before one final clip."""
    size = original_crop.shape[0]
    change = (edited_crop.astype(np.float32) - original_crop.astype(np.float32))
    height, width = photo.shape[:2]
    footprint = crop_footprint(matrix, size, height, width)
    if footprint is None:
        return photo
    x1, y1, x2, y2 = footprint
    # region pixel -> crop pixel, which is the map warpAffine wants with WARP_INVERSE_MAP
    region_to_crop = np.asarray(matrix, dtype=np.float64) @ np.array(
        [[1, 0, x1], [0, 1, y1], [0, 0, 1]], dtype=np.float64)
    region_size = (x2 - x1, y2 - y1)
    back = cv2.warpAffine(change, region_to_crop, region_size,
                          flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    weight = cv2.warpAffine(feather_mask(size, feather), region_to_crop, region_size,
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    photo[y1:y2, x1:x2, :3] += back.reshape(weight.shape + (-1,)) * weight[..., None]
    return photo
