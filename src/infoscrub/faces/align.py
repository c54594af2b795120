"""Align a detected face to the crop convention the model was trained on (SPEC section 5).

An alignment is a 2x3 similarity matrix from photo pixels to model-crop pixels; the same
matrix, inverted, carries the edit back into the photo (``infoscrub.faces.paste``).

- ``celeba``: least-squares similarity of left eye, right eye and mouth centre onto the
  aligned CelebA positions in its 178x218 frame, then the centre 178x178 square, resized.
- ``celebahq``: the oriented square of Karras et al. 2018 (CelebA-HQ, FFHQ).
"""

from __future__ import annotations

import cv2
import numpy as np

from infoscrub.data.conventions import check_alignment

# Aligned CelebA (178x218, 0-based): left eye, right eye, mouth centre.
CELEBA_TEMPLATE = np.array([[69.7, 111.0], [107.2, 111.0], [88.4, 152.5]])
CELEBA_FRAME = (178, 218)
CELEBA_CROP_TOP = (CELEBA_FRAME[1] - CELEBA_FRAME[0]) / 2  # centre square starts here


def key_points(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left eye, right eye and mouth centre from MTCNN's five landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)
    return points[0], points[1], (points[3] + points[4]) / 2


def similarity_lstsq(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (scale, rotation, translation) taking source onto target.

    Solves [a -b tx; b a ty] for x' = a x - b y + tx, y' = b x + a y + ty (Umeyama without
    reflection, in closed form as a linear system)."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source, target):
        rows += [[x, -y, 1.0, 0.0], [y, x, 0.0, 1.0]]
        values += [u, v]
    (a, b, tx, ty), *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(values), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def celeba_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    left, right, mouth = key_points(landmarks)
    to_frame = similarity_lstsq(np.stack([left, right, mouth]), CELEBA_TEMPLATE)
    # frame -> centre square -> model size
    scale = size / CELEBA_FRAME[0]
    crop = np.array([[scale, 0.0, 0.0], [0.0, scale, -CELEBA_CROP_TOP * scale], [0, 0, 1]])
    return (crop @ np.vstack([to_frame, [0, 0, 1]]))[:2]


def celebahq_quad(landmarks: np.ndarray) -> np.ndarray:
    """Karras et al.'s oriented square: corners top-left, bottom-left, bottom-right,
    top-right in photo pixels."""
    left, right, mouth = key_points(landmarks)
    eye_avg = (left + right) / 2
    eye_to_eye = right - left
    eye_to_mouth = mouth - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # e - rot90(m)
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    centre = eye_avg + eye_to_mouth * 0.1
    return np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])


def celebahq_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    quad = celebahq_quad(landmarks)
    corners = np.array([[0, 0], [0, size], [size, size], [size, 0]], dtype=np.float64)
    return similarity_lstsq(quad, corners)  # exact: the quad is a square


def alignment_matrix(landmarks: np.ndarray, alignment: str, size: int) -> np.ndarray:
    """The 2x3 matrix taking photo pixels to model-crop pixels."""
    check_alignment(alignment)
    if alignment == "celeba":
        return celeba_matrix(landmarks, size)
    return celebahq_matrix(landmarks, size)


def matrix_scale(matrix: np.ndarray) -> float:
    """How many crop pixels one photo pixel becomes."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The model-size crop under ``matrix``; float32 input, float32 out.

    Shrinking by more than 2x with bilinear sampling aliases, so the source region is first
    reduced with area averaging to about the crop's resolution."""
    scale = matrix_scale(matrix)
    matrix = np.asarray(matrix, dtype=np.float64)
    if scale < 0.5:
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]]) @ inverse.T
        height, width = image.shape[:2]
        x1, y1 = np.floor(corners.min(axis=0)).astype(int) - 2
        x2, y2 = np.ceil(corners.max(axis=0)).astype(int) + 2
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            factor = scale * 1.5  # a little above the target so bilinear has detail to use
            region = image[y1:y2, x1:x2]
            small_size = (max(2, round((x2 - x1) * factor)), max(2, round((y2 - y1) * factor)))
            small = cv2.resize(region, small_size, interpolation=cv2.INTER_AREA)
            fx, fy = small_size[0] / (x2 - x1), small_size[1] / (y2 - y1)
            # photo -> small, pixel centres as cv2.resize maps them: (p - x1 + .5) f - .5
            to_small = np.array([[fx, 0, (0.5 - x1) * fx - 0.5],
                                 [0, fy, (0.5 - y1) * fy - 0.5], [0, 0, 1]])
            matrix = (np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_small))[:2]
            image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT101)
