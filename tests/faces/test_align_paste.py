"""Alignment to the training conventions and pasting the change back."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_faces import astronaut

from infoscrub.faces.align import (CELEBA_TEMPLATE, alignment_matrix, celebahq_quad,
                                   similarity_lstsq, warp_crop)
from infoscrub.faces.detect import detect_faces
from infoscrub.faces.paste import feather_mask, paste_change


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_lstsq_recovers_a_similarity() -> None:
    truth = similarity(1.7, 0.4, 12.0, -30.0)
    source = np.array([[0, 0], [10, 3], [4, 20], [-7, 5]], float)
    np.testing.assert_allclose(similarity_lstsq(source, apply(truth, source)), truth, atol=1e-9)


def synthetic_landmarks(template_to_photo: np.ndarray) -> np.ndarray:
    """Five landmarks whose eyes and mouth centre are the CelebA template, moved."""
    left, right, mouth = CELEBA_TEMPLATE
    nose = (left + right + mouth) / 3
    points = np.stack([left, right, nose, mouth - [15, 0], mouth + [15, 0]])
    return apply(template_to_photo, points)


def test_celeba_alignment_puts_eyes_and_mouth_on_the_template() -> None:
    landmarks = synthetic_landmarks(similarity(3.0, -0.3, 500.0, 200.0))
    matrix = alignment_matrix(landmarks, "celeba", 128)
    left, right, mouth = landmarks[0], landmarks[1], (landmarks[3] + landmarks[4]) / 2
    expected = (CELEBA_TEMPLATE - [0, 20]) * 128 / 178  # centre 178 square, then resize
    np.testing.assert_allclose(apply(matrix, np.stack([left, right, mouth])), expected,
                               atol=1e-6)


def test_celebahq_quad_follows_karras() -> None:
    landmarks = synthetic_landmarks(similarity(2.0, 0.0, 100.0, 50.0))
    quad = celebahq_quad(landmarks)
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    np.testing.assert_allclose(sides, sides[0])  # a square
    eye_avg = (landmarks[0] + landmarks[1]) / 2
    eye_to_mouth = (landmarks[3] + landmarks[4]) / 2 - eye_avg
    eye_dist = np.linalg.norm(landmarks[1] - landmarks[0])
    half = max(2.0 * eye_dist, 1.8 * np.linalg.norm(eye_to_mouth))
    np.testing.assert_allclose(sides[0], 2 * half)
    np.testing.assert_allclose(quad.mean(axis=0), eye_avg + 0.1 * eye_to_mouth)
    # upright face: the square is axis-aligned, mapped corner to corner
    matrix = alignment_matrix(landmarks, "celebahq", 128)
    np.testing.assert_allclose(apply(matrix, quad), [[0, 0], [0, 128], [128, 128], [128, 0]],
                               atol=1e-9)


@pytest.mark.parametrize("alignment", ["celeba", "celebahq"])
def test_astronaut_crop_is_a_centred_upright_face(alignment: str) -> None:
    photo = astronaut(scale=3.0)
    face = detect_faces(photo)[0]
    matrix = alignment_matrix(face.landmarks, alignment, 128)
    eyes = apply(matrix, face.landmarks[:2])
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1.0  # level eyes
    assert 40 < eyes.mean(axis=0)[0] < 88  # centred
    crop = warp_crop(photo.astype(np.float32) / 255, matrix, 128)
    assert crop.shape == (128, 128, 3) and 0.2 < crop.mean() < 0.8


@pytest.mark.parametrize("alignment", ["celeba", "celebahq"])
def test_pasting_an_unedited_crop_reproduces_the_photo(alignment: str) -> None:
    photo = astronaut(scale=2.0).astype(np.float32) / 255
    face = detect_faces(astronaut(scale=2.0))[0]
    matrix = alignment_matrix(face.landmarks, alignment, 128)
    crop = warp_crop(photo, matrix, 128)
    out = paste_change(photo.copy(), crop, crop.copy(), matrix)
    x1, y1, x2, y2 = (int(v) for v in face.box)
    assert psnr(out[y1:y2, x1:x2], photo[y1:y2, x1:x2]) > 40
    assert psnr(out, photo) > 40


def test_pasted_change_lands_where_the_crop_came_from() -> None:
    photo = astronaut(scale=2.0).astype(np.float32) / 255
    face = detect_faces(astronaut(scale=2.0))[0]
    matrix = alignment_matrix(face.landmarks, "celebahq", 128)
    crop = warp_crop(photo, matrix, 128)
    # a smooth change that differs everywhere: its value tells where it was pasted
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
    change = np.stack([xx / 512, yy / 512, np.full_like(xx, 0.1)], axis=2)
    out = paste_change(photo.copy(), crop, crop + change, matrix)
    diff = out - photo
    for x, y in face.landmarks:  # well inside the crop, where the mask is 1
        cx, cy = apply(matrix, np.array([[x, y]]))[0]
        got = diff[int(round(y)), int(round(x))]
        np.testing.assert_allclose(got, [cx / 512, cy / 512, 0.1], atol=0.01)
    x1, y1, x2, y2 = face.box
    corners_far = diff[: int(y1) // 3, : int(x1) // 3]
    assert np.abs(corners_far).max() == 0  # nothing outside the crop moves


def test_feather_mask_fades_to_the_border() -> None:
    mask = feather_mask(128, 0.1)
    assert mask[64, 64] == 1 and mask[0, 64] < 0.05 and mask[64, 127] < 0.05
    assert np.all(np.diff(mask[64, :64]) >= 0)
