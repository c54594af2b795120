"""Find faces in a photo: boxes, scores and five landmarks, in photo pixel coordinates.

Photos are searched on a downscaled copy and the results scaled back to full resolution.
The copy is as small as finding every face worth editing allows: MTCNN finds faces down to
20 pixels, and a face under ``MIN_FACE_PX`` (40) pixels in the photo is not worth editing
(the model sees a 128-pixel crop about twice the face box: a smaller face would be edited
from a few dozen pixels), so a photo is searched at half size at most; big photos at 1024
on the long side at most (faces down to 2% of the frame). A 1-megapixel photo's search
costs a quarter of a full-size one, a 12-megapixel photo's about 0.1 s on one core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from infoscrub.faces.mtcnn import Mtcnn, MtcnnSettings

DETECTION_MAX_SIDE = 1024
MIN_FACE_PX = 40  # the smallest face, in photo pixels, the search must find

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Face:
    """One detected face. ``landmarks`` is (5, 2): see ``LANDMARK_NAMES``."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": {name: [round(float(x), 1), round(float(y), 1)]
                          for name, (x, y) in zip(LANDMARK_NAMES, self.landmarks)},
        }


_detectors = threading.local()


def shared_detector() -> Mtcnn:
    """One MTCNN per thread: loading the nets takes longer than running them, and an
    instance runs one image at a time (its OpenCV nets keep their input), so concurrent
    requests on their own threads detect side by side instead of queueing for one."""
    detector = getattr(_detectors, "mtcnn", None)
    if detector is None:
        detector = _detectors.mtcnn = Mtcnn(MtcnnSettings())
    return detector


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """The detector's input: RGB uint8, whatever the photo's depth."""
    if image.dtype == np.uint8:
        return image[..., :3]
    if image.dtype == np.uint16:
        return (image[..., :3] >> 8).astype(np.uint8)
    return (np.clip(image[..., :3], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def detect_faces(image: np.ndarray, detector: Mtcnn | None = None,
                 max_side: int = DETECTION_MAX_SIDE, min_face: float = MIN_FACE_PX) -> list[Face]:
    """Faces in an RGB image (uint8, uint16, or float in [0, 1]), left to right.

    The left-to-right order is what ``--faces 0,2`` refers to, so it must be stable."""
    detector = detector or shared_detector()
    rgb = to_rgb8(image)
    height, width = rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width), detector.settings.min_face_size / min_face)
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    boxes, scores, landmarks = detector.detect(np.ascontiguousarray(rgb))
    faces = [Face(box=tuple(float(v) / factor for v in box), score=float(score),
                  landmarks=np.asarray(points, dtype=np.float64) / factor)
             for box, score, points in zip(boxes, scores, landmarks)]
    return sorted(faces, key=lambda f: (f.box[0], f.box[1]))
