"""MTCNN detection on real faces (skimage's astronaut, public domain)."""

from __future__ import annotations

import numpy as np
from conftest_faces import astronaut, two_faces

from infoscrub.faces.detect import detect_faces
from infoscrub.faces.mtcnn import nms, pyramid_scales, MtcnnSettings


def test_finds_the_astronaut_with_plausible_landmarks() -> None:
    faces = detect_faces(astronaut())
    assert len(faces) == 1
    face = faces[0]
    x1, y1, x2, y2 = face.box
    assert face.score > 0.95
    assert 150 < x1 < 210 and 30 < y1 < 90 and 240 < x2 < 300 and 150 < y2 < 200
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert mouth_left[0] < mouth_right[0]


def test_large_photo_is_searched_downscaled_and_mapped_back() -> None:
    small = detect_faces(astronaut())[0]
    big = detect_faces(astronaut(scale=4.0))[0]
    np.testing.assert_allclose(big.landmarks / 4.0, small.landmarks, atol=3.0)


def test_two_faces_left_to_right() -> None:
    faces = detect_faces(two_faces())
    assert len(faces) == 2
    assert faces[0].box[2] < 512 < faces[1].box[0]


def test_blank_image_has_no_faces() -> None:
    assert detect_faces(np.full((300, 400, 3), 128, np.uint8)) == []


def test_nms_keeps_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [2, 2, 5, 5]], float)
    scores = np.array([0.8, 0.9, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 1, 2]
    # 'min' also drops a box nested inside a better one
    assert nms(boxes, scores, 0.5, method="min").tolist() == [3, 2]


def test_pyramid_starts_at_the_minimum_face_size() -> None:
    scales = pyramid_scales(480, 640, MtcnnSettings(min_face_size=24))
    assert scales[0] == 0.5 and all(s * 480 >= 12 for s in scales)
    assert scales[-1] * 0.709 * 480 < 12
