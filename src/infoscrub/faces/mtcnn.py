"""MTCNN (Zhang et al. 2016) face detection with five landmarks, run by OpenCV's dnn module.

The three networks are the ONNX exports bundled in ``infoscrub/assets/mtcnn`` (MIT, see
the LICENSE there). They were converted from a Keras port, so every network expects its
input as (N, width, height, 3) -- x before y -- with pixels scaled to [-1, 1], and P-Net's
output maps are laid out the same way. Everything around the networks (image pyramid,
candidate generation, non-maximum suppression, box regression, landmarks) is here.

Coordinates are 0-based pixels, boxes are (x1, y1, x2, y2) floats.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

P_NET_CELL = 12  # P-Net sees 12x12 windows ...
P_NET_STRIDE = 2  # ... every 2 pixels of its input.


@dataclass(frozen=True)
class MtcnnSettings:
    min_face_size: float = 20.0  # pixels, at the resolution the detector runs on
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.95)  # P-, R-, O-Net face scores;
    # O-Net at 0.95 rather than the usual 0.7: spacesuit rings and patterned cloth score
    # 0.85-0.92 and a false face means an edited patch and confusing face numbers.
    scale_factor: float = 0.709  # pyramid step, from the paper
    max_candidates: int = 2000  # cap on P-Net windows sent to R-Net (busy textures)


def weights_dir() -> Path:
    return Path(str(resources.files("infoscrub") / "assets" / "mtcnn"))


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union"
        ) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    ``method='min'`` divides the overlap by the smaller box (O-Net's last pass uses it so a
    box nested inside a bigger one is dropped)."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        if method == "min":
            overlap = inter / np.maximum(np.minimum(area[i], area[rest]), 1e-9)
        else:
            overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the next network's input is square)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) / 2
    out[:, 1] = boxes[:, 1] + (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def regress_boxes(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply the networks' box regression: offsets are fractions of the box size."""
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    scale = np.concatenate([w, h, w, h], axis=1)
    return boxes[:, :4] + offsets * scale


def pyramid_scales(height: int, width: int, settings: MtcnnSettings) -> list[float]:
    """Scales at which a face of ``min_face_size`` pixels fills P-Net's 12-pixel window."""
    scale = P_NET_CELL / settings.min_face_size
    smallest = min(height, width) * scale
    scales = []
    while smallest >= P_NET_CELL:
        scales.append(scale)
        scale *= settings.scale_factor
        smallest *= settings.scale_factor
    return scales


def normalise(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - 127.5) * (1.0 / 128.0)


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut each (square) box out of ``image`` -- zero outside the image -- and resize it.

    Returns (N, size(x), size(y), 3) in the networks' x-first layout, normalised."""
    height, width = image.shape[:2]
    patches = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(np.round(boxes[:, :4]).astype(np.int64)):
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0 or bh <= 0:
            continue
        canvas = np.zeros((bh, bw, 3), dtype=np.uint8)
        sx1, sy1 = max(x1, 0), max(y1, 0)
        sx2, sy2 = min(x2, width), min(y2, height)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        canvas[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        resized = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        patches[k] = normalise(resized).transpose(1, 0, 2)
    return patches


class Mtcnn:
    """The three-stage cascade. One instance is not thread-safe (cv2.dnn nets keep their
    input as state), so calls are serialised by a lock."""

    def __init__(self, settings: MtcnnSettings | None = None, weights: Path | None = None):
        self.settings = settings or MtcnnSettings()
        folder = Path(weights) if weights else weights_dir()
        self._nets = {name: cv2.dnn.readNetFromONNX(str(folder / f"{name}.onnx"))
                      for name in ("pnet", "rnet", "onet")}
        self._lock = threading.Lock()

    def _run(self, name: str, batch: np.ndarray) -> list[np.ndarray]:
        net = self._nets[name]
        net.setInput(np.ascontiguousarray(batch, dtype=np.float32))
        return [np.asarray(o) for o in net.forward(net.getUnconnectedOutLayersNames())]

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces in an RGB uint8 image: boxes (N,4), scores (N,), landmarks (N,5,2).

        Landmark order: left eye, right eye, nose, left mouth corner, right mouth corner
        (left/right as seen in the image)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("Mtcnn.detect expects an RGB uint8 array (H, W, 3)")
        empty = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
        with self._lock:
            boxes = self._proposals(image)
            if len(boxes) == 0:
                return empty
            boxes = self._refine(image, boxes)
            if len(boxes) == 0:
                return empty
            return self._output(image, boxes)

    def _proposals(self, image: np.ndarray) -> np.ndarray:
        """Stage 1: P-Net over the image pyramid; returns square boxes (N, 5) with scores."""
        height, width = image.shape[:2]
        found = []
        for scale in pyramid_scales(height, width, self.settings):
            sw, sh = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            scaled = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
            offsets, probs = self._run("pnet", normalise(scaled).transpose(1, 0, 2)[None])
            score_map = probs[0, :, :, 1]  # (x, y)
            xs, ys = np.nonzero(score_map >= self.settings.thresholds[0])
            if xs.size == 0:
                continue
            scores = score_map[xs, ys]
            cells = np.stack([xs, ys], axis=1).astype(np.float64) * P_NET_STRIDE
            boxes = np.concatenate([cells / scale, (cells + P_NET_CELL) / scale], axis=1)
            boxes = regress_boxes(boxes, offsets[0, xs, ys, :])
            keep = nms(boxes, scores, 0.5)
            found.append(np.column_stack([boxes[keep], scores[keep]]))
        if not found:
            return np.zeros((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)][: self.settings.max_candidates]
        boxes[:, :4] = square_boxes(boxes[:, :4])
        return boxes

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net rejects most candidates and tightens the rest."""
        offsets, probs = self._run("rnet", crop_patches(image, boxes, 24))
        scores = probs[:, 1]
        passed = scores > self.settings.thresholds[1]
        if not passed.any():
            return np.zeros((0, 5))
        boxes, scores, offsets = boxes[passed], scores[passed], offsets[passed]
        keep = nms(boxes[:, :4], scores, 0.7)
        refined = regress_boxes(boxes[keep], offsets[keep])
        return np.column_stack([square_boxes(refined), scores[keep]])

    def _output(self, image: np.ndarray, boxes: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage 3: O-Net gives the final score, box and five landmarks."""
        offsets, points, probs = self._run("onet", crop_patches(image, boxes, 48))
        scores = probs[:, 1]
        passed = scores > self.settings.thresholds[2]
        boxes, scores = boxes[passed], scores[passed]
        offsets, points = offsets[passed], points[passed]
        if len(boxes) == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        # Landmarks are fractions of the (rounded) box O-Net saw.
        seen = np.round(boxes[:, :4])
        w = (seen[:, 2] - seen[:, 0])[:, None]
        h = (seen[:, 3] - seen[:, 1])[:, None]
        landmarks = np.stack([seen[:, :1] + points[:, :5] * w,
                              seen[:, 1:2] + points[:, 5:] * h], axis=2)
        final = regress_boxes(boxes, offsets)
        keep = nms(final, scores, 0.7, method="min")
        return final[keep], scores[keep], landmarks[keep]
