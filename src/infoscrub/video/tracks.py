"""Faces followed through a clip: detections linked into tracks, and each track's landmarks
made dense and steady over time.

A detector run frame by frame gives landmarks that jitter by a pixel or two, and misses a
face now and then; a paste that follows them shakes and blinks. Here detections (on every
frame, or every k-th) are linked greedily to the track whose last box, moved on by its
velocity, is nearest (closer than ``MAX_STEP`` of the face's size, of a similar size: a face
box overlap alone loses a small face that moves fast); a track's landmarks are then filled in linearly over the frames where it
was not detected (not run, or missed), and smoothed over time by a Gaussian-weighted
local-linear fit (centred: the whole clip is known before the second pass, so there is no lag). Frames where
the detector ran and missed a face are kept, so the report can name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infoscrub.faces.detect import Face

MAX_STEP = 0.8  # a detection continues a track when its centre is this many face sizes or less from the prediction
MAX_SCALE = 1.6  # ... and neither box is more than this many times the other's side


@dataclass
class Track:
    id: int
    detected: dict[int, Face] = field(default_factory=dict)  # frame index -> the detection there
    missed: list[int] = field(default_factory=list)  # frames where the detector ran and did not find it

    @property
    def first(self) -> int:
        return min(self.detected)

    @property
    def last(self) -> int:
        return max(self.detected)

    def predicted_box(self, frame: int) -> np.ndarray:
        """The last box moved on by the velocity of the last two detections."""
        frames = sorted(self.detected)[-2:]
        last = np.asarray(self.detected[frames[-1]].box, np.float64)
        if len(frames) < 2:
            return last
        before = np.asarray(self.detected[frames[0]].box, np.float64)
        step = (last - before) / (frames[1] - frames[0])
        return last + step * (frame - frames[1])


def closeness(predicted: np.ndarray, box: np.ndarray) -> float:
    """1 at the predicted place, 0 at ``MAX_STEP`` face sizes away or at a size ``MAX_SCALE``
    times off; below 0: not the same face."""
    side_a = max(predicted[2] - predicted[0], predicted[3] - predicted[1], 1e-6)
    side_b = max(box[2] - box[0], box[3] - box[1], 1e-6)
    if max(side_a, side_b) / min(side_a, side_b) > MAX_SCALE:
        return -1.0
    step = np.hypot(*((predicted[:2] + predicted[2:]) / 2 - (box[:2] + box[2:]) / 2)) / ((side_a + side_b) / 2)
    return float(1.0 - step / MAX_STEP)


class Linker:
    """Detections in, tracks out, one detector frame at a time (in order)."""

    def __init__(self, max_gap: int):
        self.max_gap = max_gap  # frames a track may go undetected and still continue
        self.tracks: list[Track] = []

    def add(self, frame: int, faces: list[Face]) -> list[int]:
        """The track id of each face detected on ``frame`` (new tracks where none continues)."""
        live = [t for t in self.tracks if frame - t.last <= self.max_gap]
        pairs = sorted(((closeness(t.predicted_box(frame), np.asarray(f.box, np.float64)), ti, fi)
                        for ti, t in enumerate(live) for fi, f in enumerate(faces)), reverse=True)
        ids: list[int | None] = [None] * len(faces)
        taken: set[int] = set()
        for near, ti, fi in pairs:
            if near <= 0:
                break
            if ti in taken or ids[fi] is not None:
                continue
            taken.add(ti)
            ids[fi] = live[ti].id
            live[ti].detected[frame] = faces[fi]
        for ti, track in enumerate(live):
            if ti not in taken:
                track.missed.append(frame)
        for fi, face in enumerate(faces):
            if ids[fi] is None:
                track = Track(len(self.tracks), {frame: face})
                self.tracks.append(track)
                ids[fi] = track.id
        return [int(i) for i in ids]

    def finished(self) -> list[Track]:
        """The tracks, each with only the misses inside its span (a face that left is not missed)."""
        for track in self.tracks:
            track.missed = [f for f in track.missed if track.first < f < track.last]
        return self.tracks


def dense_landmarks(track: Track, sigma: float) -> dict[int, np.ndarray]:
    """(5, 2) landmarks for every frame from the track's first detection to its last:
    linear between detections, then a local-linear fit over a centred Gaussian of ``sigma``
    frames (0: as detected)."""
    frames = np.array(sorted(track.detected))
    points = np.stack([np.asarray(track.detected[f].landmarks, np.float64) for f in frames])  # (K, 5, 2)
    span = np.arange(frames[0], frames[-1] + 1)
    flat = points.reshape(len(frames), -1)
    dense = np.stack([np.interp(span, frames, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    if sigma > 0 and len(span) > 1:
        dense = local_linear_over_time(dense, sigma)
    return {int(f): dense[i].reshape(5, 2) for i, f in enumerate(span)}


def local_linear_over_time(series: np.ndarray, sigma: float) -> np.ndarray:
    """(T, D) smoothed along T: at each step, the value at that step of a straight line fitted
    to the steps within ``3 sigma`` by least squares, weighted by a Gaussian of ``sigma``
    steps (a local-linear fit). A plain weighted mean lags a face that moves wherever its
    window is lopsided (near a track's ends) or the motion bends, and on a 24-frame pan that lag
    shook the paste more than the detector's jitter did; a line through the window follows
    steady motion exactly, at the ends too, and still averages the jitter out."""
    radius = max(1, int(round(3 * sigma)))
    sums = np.zeros((5, *series.shape))  # per step: sum w, sum w t, sum w t^2, sum w y, sum w t y
    for offset in range(-radius, radius + 1):
        lo, hi = max(0, -offset), min(len(series), len(series) - offset)
        if hi <= lo:  # a window wider than the series
            continue
        weight = np.exp(-0.5 * (offset / sigma) ** 2)
        values = series[lo + offset:hi + offset]
        sums[0, lo:hi] += weight
        sums[1, lo:hi] += weight * offset
        sums[2, lo:hi] += weight * offset * offset
        sums[3, lo:hi] += weight * values
        sums[4, lo:hi] += weight * offset * values
    s0, s1, s2, y0, y1 = sums
    det = s0 * s2 - s1 * s1
    line = (s2 * y0 - s1 * y1) / np.where(det > 1e-9, det, 1.0)
    return np.where(det > 1e-9, line, y0 / s0)  # one step alone: its own value


EDGE_FRAMES = 8  # at most this many frames edited past a track's end at the frame's edge


def reach_past_ends(dense: dict[int, np.ndarray], width: int, height: int, detect_every: int = 1,
                    most: int = EDGE_FRAMES) -> dict[int, np.ndarray]:
    """``dense`` with frames added before the track's first and after its last, the face
    going on at its speed there:

    - the frames the detector never looked at (with ``detect_every`` k, the k - 1 on each
      side): the face may well be on them, and a frame left unedited between edited ones
      is both a leak and a flash (it was the last frame of every clip at k = 2);
    - while the face, cut by the frame's edge and moving out of it, is still partly in view
      (at most ``most`` frames): a face that enters or leaves through an edge is found only
      once most of it is in view, and the part in view before that would otherwise go out
      unedited. A face that vanishes inside the frame (a cut, an occluder) where the detector
      looked gets nothing made up."""
    frames = sorted(dense)
    if len(frames) < 2:
        return dense
    out = dict(dense)
    for end, away in ((frames[0], -1), (frames[-1], 1)):
        here = dense[end]
        velocity = here - dense[end - away]  # per frame, in the direction away from the track
        leaving = visible_share(here, width, height) > visible_share(here + velocity, width, height) > 0
        for k in range(1, max(detect_every - 1, most if leaving else 0) + 1):
            frame, moved = end + away * k, here + velocity * k
            if frame < 0 or visible_share(moved, width, height) <= 0:
                break
            out[frame] = moved
    return out


def visible_share(landmarks: np.ndarray, width: int, height: int) -> float:
    """How much of the face box around ``landmarks`` lies inside a ``width`` x ``height`` frame."""
    x1, y1, x2, y2 = box_of(landmarks)
    inside = max(0.0, min(x2, width) - max(x1, 0.0)) * max(0.0, min(y2, height) - max(y1, 0.0))
    return inside / max((x2 - x1) * (y2 - y1), 1e-9)


def box_of(landmarks: np.ndarray, scale: float = 1.0) -> tuple[float, float, float, float]:
    """A face box around five landmarks (the eyes-to-mouth square, grown by ``scale``)."""
    centre = landmarks.mean(axis=0)
    side = max(np.ptp(landmarks[:, 0]), np.ptp(landmarks[:, 1])) * 2.0 * scale
    return (float(centre[0] - side / 2), float(centre[1] - side / 2),
            float(centre[0] + side / 2), float(centre[1] + side / 2))
