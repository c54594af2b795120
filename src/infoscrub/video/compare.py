"""What tracking buys: the same clip scrubbed frame by frame, each frame a photo of its own
(its own detection, its own reading of the attributes, its own mixing map), and the flicker
of any scrubbed clip measured against its source on the same face regions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from infoscrub.edit_request import EditRequest
from infoscrub.photo_io import Photo, write_atomic
from infoscrub.scrubber import Scrubber
from infoscrub.video.container import DEFAULT_QUALITY, Frame, VideoLimits, VideoWriter, probe, read_frames
from infoscrub.video.flicker import FlickerMeter

def scrub_frame_by_frame(scrubber: Scrubber, source: str | Path, destination: str | Path, request: EditRequest,
                         quality: int = DEFAULT_QUALITY, limits: VideoLimits = VideoLimits()) -> list[dict[str, Any]]:
    """Every frame through the photo pipeline on its own, written as a clip (the
    comparison); the photo reports, one a frame."""
    source, destination = Path(source), Path(destination)
    info = probe(source, limits)
    request = scrubber.check_request(request)
    reports: list[dict[str, Any]] = []

    def write(stream: Any) -> None:
        writer = VideoWriter(stream, destination.suffix.lower(), info, quality)
        for frame in read_frames(source, info):
            assert isinstance(frame, Frame)
            photo = Photo(frame.rgb, None, "PNG", None, False)
            edited, report = scrubber.scrub_request(photo, request)
            reports.append(report)
            writer.write(edited.rgb, frame.pts)
        writer.close()

    write_atomic(write, destination, force=True)
    return reports


def reading_flips(reports: list[dict[str, Any]], attributes: list[str]) -> dict[str, int]:
    """Per attribute: how often the attacker's reading of a lone face changed side from one
    frame to the next, over frame-by-frame reports (frames with one face each)."""
    readings = [{a: face["attacker"][a]["p_after"] > 0.5 for a in attributes if a in face.get("attacker", {})}
                for report in reports for face in report["faces"][:1] if len(report["faces"]) == 1]
    return {a: sum(1 for one, two in zip(readings, readings[1:]) if a in one and a in two and one[a] != two[a])
            for a in attributes}


def clip_flicker(source: str | Path, output: str | Path, matrices: list[list[np.ndarray | None]],
                 limits: VideoLimits = VideoLimits()) -> dict[str, Any]:
    """The flicker (``video.flicker``) of ``output`` against ``source`` under ``matrices``
    (per frame, one frame -> face matrix or None per face: a synthetic clip's true placements)."""
    source_info, output_info = probe(source, limits), probe(output, limits)
    meter = FlickerMeter()
    pairs = zip(read_frames(source, source_info), read_frames(output, output_info))
    for index, (before, after) in enumerate(pairs):
        assert isinstance(before, Frame) and isinstance(after, Frame)
        faces = matrices[index] if index < len(matrices) else []
        meter.add(index, before.rgb, after.rgb, {k: m for k, m in enumerate(faces) if m is not None})
    return meter.summary()
