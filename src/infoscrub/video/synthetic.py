"""Clips made from still faces, for the tests and the benchmarks (no video data ships): a face
panned, zoomed or turned across a textured background, two faces moving, a face that
enters and leaves, with the true face box of every face on every frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from infoscrub.video.container import require_av

# t in [0, 1] -> (centre x, centre y as fractions of the frame, face side as a fraction of
# the frame height, in-plane angle in degrees)
Path_ = Callable[[float], tuple[float, float, float, float]]


@dataclass
class Mover:
    face: np.ndarray  # (S, S, 3) uint8, a face filling most of the square
    path: Path_
    other: np.ndarray | None = None  # a second photo of the person: the face fades to it and back

    def at(self, t: float) -> np.ndarray:
        if self.other is None:
            return self.face
        w = 0.5 - 0.5 * math.cos(2 * math.pi * t)
        return (self.face * (1 - w) + self.other * w + 0.5).astype(np.uint8)


SCENARIOS: dict[str, Callable[[list[np.ndarray]], list[Mover]]] = {
    "pan": lambda faces: [Mover(faces[0], lambda t: (0.3 + 0.4 * t, 0.5, 0.45, 0.0))],
    "zoom": lambda faces: [Mover(faces[0], lambda t: (0.5, 0.5, 0.3 + 0.3 * t, 0.0))],
    "rotate": lambda faces: [Mover(faces[0], lambda t: (0.5, 0.5, 0.45, 25.0 * math.sin(2 * math.pi * t)))],
    "two_faces": lambda faces: [Mover(faces[0], lambda t: (0.25 + 0.1 * t, 0.5, 0.4, 0.0)),
                                Mover(faces[1 % len(faces)], lambda t: (0.75 - 0.1 * t, 0.45 + 0.1 * t, 0.35, 0.0))],
    "three_faces": lambda faces: [Mover(faces[0], lambda t: (0.2 + 0.05 * t, 0.5, 0.3, 0.0)),
                                  Mover(faces[1 % len(faces)], lambda t: (0.5, 0.45 + 0.05 * t, 0.3, 0.0)),
                                  Mover(faces[2 % len(faces)], lambda t: (0.8 - 0.05 * t, 0.5, 0.3, 0.0))],
    # one person, the expression changing: a cross-fade between two photos of them
    "expressions": lambda faces: [Mover(faces[0], lambda t: (0.5, 0.5, 0.45, 0.0), faces[1 % len(faces)])],
    # in from the left edge, across, out at the right: off the frame at both ends
    "enter_leave": lambda faces: [Mover(faces[0], lambda t: (-0.25 + 1.5 * t, 0.5, 0.4, 0.0))],
}


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A soft textured backdrop (smooth noise): something for the encoder and the detector to
    see besides the faces, with no face-like structure."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, size=(max(2, height // 40), max(2, width // 40), 3)).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


@dataclass
class Placement:
    """Where a face is drawn on a frame."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2, clipped to the frame
    matrix: np.ndarray  # 2x3: frame -> the face square at ``size`` px (``video.flicker``'s coordinates)


def render(movers: list[Mover], width: int, height: int, frames: int, seed: int = 0, noise: float = 2.0,
           light: float = 0.0, occluder: bool = False, size: int = 64
           ) -> Iterator[tuple[np.ndarray, list[Placement | None]]]:
    """(frame, each mover's placement or None where it is off the frame) for each frame.
    ``noise``: the std of a camera's per-frame noise, in 0-255 levels (0: none); ``light``:
    the exposure wanders by up to this fraction (a camera adjusting to the light);
    ``occluder``: a post sweeps across the frame in front of the faces, hiding part of them
    for a while (the detector misses a face now and then, as it does in real clips)."""
    back = background(width, height, seed)
    rng = np.random.default_rng(seed + 1)
    for index in range(frames):
        t = index / max(1, frames - 1)
        frame = back.copy()
        placed: list[Placement | None] = []
        for mover in movers:
            cx, cy, side, angle = mover.path(t)
            placed.append(place(frame, mover.at(t), cx * width, cy * height, side * height, angle, size))
        if occluder:
            x = int((-0.2 + 1.4 * t) * width)
            frame[:, max(0, x):max(0, x + width // 8)] = (40, 40, 40)
        gain = 1.0 + light * math.sin(2 * math.pi * 1.5 * t) if light else 1.0
        if noise or light:
            frame = np.clip(frame * gain + rng.normal(0.0, noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame, placed


def place(frame: np.ndarray, face: np.ndarray, cx: float, cy: float, side: float, angle: float,
          size: int = 64) -> Placement | None:
    """Draw ``face`` centred at (cx, cy), ``side`` pixels wide, turned by ``angle``; where it
    went, or None when it is wholly off the frame."""
    source = face.shape[0]
    matrix = cv2.getRotationMatrix2D((source / 2, source / 2), angle, side / source)
    matrix[:, 2] += (cx - source / 2, cy - source / 2)
    height, width = frame.shape[:2]
    drawn = cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full((source, source), 255, np.uint8), matrix, (width, height), flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    np.copyto(frame, (frame * (1 - alpha) + drawn * alpha + 0.5).astype(np.uint8))
    x1, y1, x2, y2 = max(0.0, cx - side / 2), max(0.0, cy - side / 2), min(width, cx + side / 2), min(height, cy + side / 2)
    if x2 <= x1 or y2 <= y1:
        return None
    # frame -> face square: the inverse of the drawing, then face pixels -> ``size`` px
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))
    to_square = np.diag([size / source, size / source, 1.0]) @ inverse
    return Placement((x1, y1, x2, y2), to_square[:2])


def write_clip(path: str | Path, frames: list[np.ndarray], fps: float = 25.0, rotation: int = 0,
               times: list[float] | None = None, audio_seconds: float = 0.0, metadata: dict[str, str] | None = None,
               codec: str = "libx264", pixel_format: str = "yuv420p") -> Path:
    """Encode ``frames`` (upright RGB). ``rotation``: stored turned by it (counter-clockwise)
    with a display matrix that turns them back, as phones do; ``times``: each frame's time in
    seconds (a variable frame rate); ``audio_seconds``: a silent AAC track; ``metadata``:
    container tags (creation_time, location, make...)."""
    av = require_av()
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1000)
    base = Fraction(1, 1000) if times is not None else 1 / rate  # milliseconds only for a variable rate
    with av.open(str(path), "w") as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        stored = [np.ascontiguousarray(np.rot90(f, k=-(rotation // 90))) for f in frames] if rotation else frames
        stream = out.add_stream(codec, rate=rate)
        stream.height, stream.width = stored[0].shape[:2]
        stream.pix_fmt = pixel_format
        stream.time_base = base
        stream.codec_context.time_base = base
        if rotation:
            stream.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000) if audio_seconds else None  # every stream before the first packet
        for index, rgb in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            seconds = times[index] if times is not None else index / fps
            frame.pts, frame.time_base = int(round(seconds / base)), base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            write_silence(out, sound, audio_seconds)
    return path


def write_silence(out, sound, seconds: float) -> None:
    """``seconds`` of silence into ``sound``, a mono AAC stream (16 kHz) of an open output."""
    av = require_av()
    for start in range(0, int(seconds * 16000), 1024):
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 16000, start
        for packet in sound.encode(chunk):
            out.mux(packet)
    for packet in sound.encode():
        out.mux(packet)
