"""Reading and writing video clips with PyAV (FFmpeg comes in its wheels): the optional extra
``infoscrub[video]``.

Reading checks a clip before any work (a video stream that decodes, its size and length
within the limits), gives each frame upright as RGB (the rotation phones store as side data
applied; 10-bit, alpha and other pixel formats converted), with its own timestamp (variable
frame rates stay as they were), and passes the audio packets through untouched when asked.

Writing builds a new file from the frames alone: no container or stream metadata
(creation time, location atoms, device make and model, encoder tags), no subtitle or data
stream, no audio unless it is copied on purpose. The frames keep their timestamps, so the
frame rate and the duration are the source's. It writes through ``photo_io.write_atomic``:
a clip that fails half-way leaves no file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from infoscrub.errors import InfoscrubError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
# output suffix -> (FFmpeg muxer, video encoder): H.264 plays nearly everywhere; WebM wants VP9
OUTPUT_FORMATS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
                  ".mkv": ("matroska", "libx264"), ".webm": ("webm", "libvpx-vp9")}
DEFAULT_QUALITY = 20  # the encoder's constant-quality setting (x264 CRF; lower is better, 18 looks lossless)


class NotAVideo(InfoscrubError):
    """The file is not a video this pipeline can read."""


@dataclass(frozen=True)
class VideoLimits:
    max_pixels: int = 3840 * 2160  # 4K UHD per frame
    max_seconds: float = 600.0
    max_frames: int = 60 * 600  # ten minutes at 60 frames a second


def require_av() -> Any:
    """PyAV, or a one-line error naming the extra that brings it."""
    try:
        import av
    except ImportError:
        raise InfoscrubError("videos need the extra infoscrub[video]: pip install 'infoscrub[video]'") from None
    return av


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def written_name(path: str | Path) -> str:
    """The name a scrubbed file is written under: a photo's own; a clip in a container
    infoscrub does not write (.avi) becomes .mp4."""
    path = Path(path)
    if is_video(path) and path.suffix.lower() not in OUTPUT_FORMATS:
        return path.stem + ".mp4"
    return path.name


@dataclass(frozen=True)
class VideoInfo:
    """What a clip is, as read before any frame is processed."""

    width: int  # as displayed (after the rotation)
    height: int
    rotation: int  # degrees counter-clockwise the stored frames are turned to display them
    fps: float  # the average frame rate
    time_base: Fraction
    frames: int  # the container's count, or an estimate from the duration
    duration_s: float
    codec: str
    pixel_format: str
    audio: str | None  # the first audio stream's codec
    dropped_streams: list[str]  # streams that are never written: subtitles, data, further audio


@dataclass
class Frame:
    index: int
    pts: int | None  # in ``VideoInfo.time_base``
    time_s: float
    rgb: np.ndarray  # (H, W, 3) uint8, upright


def _open(path: Path) -> Any:
    av = require_av()
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise NotAVideo(f"{path}: not a readable video ({one_line(exc)})") from None
    except OSError as exc:
        raise InfoscrubError(f"cannot read {path}: {exc.strerror or one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def probe(path: str | Path, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """The clip's facts, checked against ``limits``; its first frame is decoded, so a clip
    whose video does not decode is refused here."""
    path = Path(path)
    if not path.is_file():
        raise InfoscrubError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    with _open(path) as container:
        if not container.streams.video:
            raise NotAVideo(f"{path} has no video stream")
        stream = container.streams.video[0]
        first = _first_frame(container, stream, path)
        rotation = _rotation(first)
        width, height = (first.height, first.width) if rotation % 180 else (first.width, first.height)
        if width * height > limits.max_pixels:
            raise InfoscrubError(f"{path} is {width}x{height}, over the limit of {limits.max_pixels / 1e6:.1f} "
                                 "megapixels a frame (--max-megapixels)")
        duration = _duration(container, stream)
        if duration > limits.max_seconds:
            raise InfoscrubError(f"{path} is {duration:.0f} s long, over the limit of {limits.max_seconds:.0f} s "
                                 "(--max-seconds)")
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        frames = int(stream.frames) or int(round(duration * fps))
        if frames > limits.max_frames:
            raise InfoscrubError(f"{path} has about {frames} frames, over the limit of {limits.max_frames}")
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        dropped = [f"{s.type} #{s.index}" for s in container.streams
                   if s is not stream and not (s.type == "audio" and s is container.streams.audio[0])]
        return VideoInfo(width, height, rotation, fps, stream.time_base or Fraction(1, 90000), frames, duration,
                         stream.codec_context.name, str(first.format.name), audio, dropped)


def _first_frame(container: Any, stream: Any, path: Path) -> Any:
    av = require_av()
    try:
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, ValueError) as exc:
        raise NotAVideo(f"{path}: its video does not decode ({one_line(exc)})") from None
    raise NotAVideo(f"{path}: its video stream holds no frame")


def _rotation(frame: Any) -> int:
    angle = frame.rotation or 0
    if isinstance(angle, float) and math.isnan(angle):
        return 0
    return int(round(angle / 90.0)) * 90 % 360


def _duration(container: Any, stream: Any) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return 0.0


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The stored frame turned as the player shows it (``rotation`` counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb


def read_frames(path: str | Path, info: VideoInfo, audio_packets: bool = False) -> Iterator[Frame | Any]:
    """Every frame, upright, in order; with ``audio_packets`` also the first audio stream's
    packets, untouched, where they come in the file. A clip that breaks off or ends well
    before its stated length is an error, never a silently shorter output."""
    av = require_av()
    path = Path(path)
    with _open(path) as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        streams = [video] + ([container.streams.audio[0]] if audio_packets and container.streams.audio else [])
        index, last = 0, 0.0
        try:
            for packet in container.demux(*streams):
                if packet.stream is not video:
                    if packet.dts is not None:  # the demuxer's final empty packet has none
                        yield packet
                    continue
                for frame in packet.decode():
                    rgb = upright(frame.to_ndarray(format="rgb24"), info.rotation)
                    last = float(frame.time or 0.0)
                    yield Frame(index, frame.pts, last, rgb)
                    index += 1
        except (av.FFmpegError, ValueError) as exc:
            raise NotAVideo(f"{path}: the video is damaged after frame {index} ({one_line(exc)})") from None
    # the frames stop well before the stated length (a frame count can mislead, a time cannot)
    if info.duration_s and last < info.duration_s - max(1.0, 0.1 * info.duration_s):
        raise NotAVideo(f"{path}: the video ends at {last:.1f} s of its {info.duration_s:.1f} s (truncated?)")


class VideoWriter:
    """Frames (and copied audio packets) into ``stream``, a binary file open for writing
    (``photo_io.write_atomic`` gives one): only these streams, no metadata."""

    def __init__(self, stream: Any, suffix: str, info: VideoInfo, quality: int = DEFAULT_QUALITY,
                 audio_from: Any | None = None):
        av = require_av()
        if suffix not in OUTPUT_FORMATS:
            raise InfoscrubError(f"a video is written as {', '.join(OUTPUT_FORMATS)}, not {suffix or 'no suffix'}")
        muxer, codec = OUTPUT_FORMATS[suffix]
        # bitexact: the muxer writes no encoder tag of its own
        self.container = av.open(stream, "w", format=muxer, options={"fflags": "+bitexact"})
        self.video = self.container.add_stream(codec, rate=Fraction(info.fps).limit_denominator(1001 * 1000))
        self.video.width, self.video.height = info.width, info.height
        # 4:2:0 plays everywhere but needs even sides; an odd-sized clip keeps its size in 4:4:4
        even = info.width % 2 == 0 and info.height % 2 == 0
        self.video.pix_fmt = "yuv420p" if even else "yuv444p"
        self.video.time_base = info.time_base
        self.video.codec_context.time_base = info.time_base
        options = {"crf": str(quality)}
        if codec == "libx264":
            options["preset"] = "veryfast"
        else:
            options.update({"b:v": "0", "deadline": "realtime", "cpu-used": "8"})
        self.video.codec_context.options = options
        self.audio = None
        if audio_from is not None:
            self.audio = self.container.add_stream_from_template(audio_from)
            for key in list(self.audio.metadata):  # the codec's parameters only, not the source's tags
                del self.audio.metadata[key]
        self.time_base = info.time_base
        self.last_pts: int | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        av = require_av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        # a frame without a timestamp follows the last one; timestamps never go backwards
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            pts = 0 if self.last_pts is None else self.last_pts + 1
        frame.pts, frame.time_base = pts, self.time_base
        self.last_pts = pts
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def copy(self, packet: Any) -> None:
        """An audio packet of the source, as it was."""
        if self.audio is not None:
            packet.stream = self.audio
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.video.encode():
            self.container.mux(packet)
        self.container.close()
