"""Clips for the video tests: the astronaut (and its mirror image) moving through the
synthetic scenarios of ``infoscrub.video.synthetic``."""

import cv2
import numpy as np

def head(mirror: bool = False) -> np.ndarray:
    """The astronaut's head as a 256-px square: a face the detector finds at any size here."""
    from conftest_faces import astronaut

    face = cv2.resize(astronaut()[30:330, 80:380], (256, 256))
    return np.ascontiguousarray(face[:, ::-1]) if mirror else face


def clip_frames(scenario: str, frames: int = 12, width: int = 320, height: int = 240, **kwargs):
    """(frames, placements) of a synthetic scenario with the astronaut (and its mirror image)."""
    from infoscrub.video.synthetic import SCENARIOS, render

    rendered = list(render(SCENARIOS[scenario]([head(), head(mirror=True)]), width, height, frames, **kwargs))
    return [f for f, _ in rendered], [p for _, p in rendered]
