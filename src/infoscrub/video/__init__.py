"""Videos (the optional extra ``infoscrub[video]``): every face of a clip tracked, one edit per
person across its frames, written as a new clip with nothing else in it.

    from infoscrub.scrubber import Scrubber
    from infoscrub.video import scrub_clip
    report = scrub_clip(Scrubber.load(), "clip.mp4", "scrubbed.mp4", ["Male", "Young"], mode="obfuscate")

``container`` reads and writes clips (PyAV), ``tracks`` follows the faces, ``job`` is the
pipeline, ``flicker`` measures how steady an edit is, ``compare`` scrubs frame by frame for
comparison, ``synthetic`` makes clips from still faces for the tests and benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def scrub_clip(scrubber: Any, source: str | Path, destination: str | Path, attributes: str | list[str],
               mode: str = "invert", strength: float = 1.0, **options: Any) -> dict[str, Any]:
    """Scrub one clip; ``options``: the fields of ``video.job.VideoOptions`` (detect_every,
    quality, keep_audio, force, ...). Returns the report (``VideoResult.report``)."""
    from infoscrub.edit_request import EditRequest
    from infoscrub.video.job import VideoOptions, scrub_video

    request = scrubber.check_request(EditRequest(attributes, mode, strength))
    return scrub_video(scrubber, source, destination, VideoOptions(request, **options)).report


__all__ = ["scrub_clip"]
