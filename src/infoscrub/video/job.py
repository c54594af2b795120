"""A clip through the pipeline (``infoscrub scrub clip.mp4``): every face found and followed,
one edit per person across the frames, written as a new clip with nothing else in it.

Two passes over the file, so a clip is never held in memory:

1. **Analysis.** Faces are detected on every ``detect_every``-th frame and linked into tracks
   (``video.tracks``); a few aligned crops of each track are kept. With the identity extra,
   tracks of the same person (a face that left and came back) join into one person. Each
   person's edit is planned once from their crops (``consistency.plan_person_edits``: the
   same attribute values shown, one mixing map when obfuscating), the album's rule.
2. **Scrubbing.** Every frame is decoded again; each track present gets its landmarks
   filled in and smoothed over time, its face edited by its person's plan, the change made
   steady (averaged with the frames around it, in the face's own coordinates:
   ``video.steady``, so frames are written a few behind the model) and pasted back. The
   report attacker judges the faces on every ``judge_every``-th frame, before and after; the
   flicker meter (``video.flicker``) compares each face with itself on the frame before, in
   the face's own coordinates.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from infoscrub.attributes import PHRASES
from infoscrub.consistency import PersonEdits, edit_people, plan_person_edits
from infoscrub.edit_request import EditRequest
from infoscrub.errors import InfoscrubError
from infoscrub.faces.align import alignment_matrix
from infoscrub.faces.crops import cut_crop, identity_crops
from infoscrub.faces.detect import detect_faces
from infoscrub.photo_io import write_atomic
from infoscrub.photo_job import PhotoResult, failed
from infoscrub.scrubber import Scrubber, Timings, from_model, to_model
from infoscrub.video.container import (
    DEFAULT_QUALITY,
    OUTPUT_FORMATS,
    Frame,
    VideoInfo,
    VideoLimits,
    VideoWriter,
    probe,
    read_frames,
    require_av,
)
from infoscrub.video.flicker import FlickerMeter
from infoscrub.video.steady import EditSmoother
from infoscrub.video.tracks import Linker, Track, box_of, dense_landmarks, reach_past_ends

MAX_STEADY = 12.0  # the steady window's largest sigma: 2 x 12 frames wait in memory for the frames after
PLAN_CROPS = 24  # crops kept per track to plan its person's edit (spread over the track)
Progress = Callable[[str, int, int], None]  # (pass name, frames done, frames in all)


@dataclass(frozen=True)
class VideoOptions:
    request: EditRequest  # checked (``Scrubber.check_request``); no target, no randomness
    detect_every: int = 1  # run the detector on every k-th frame; tracking fills the rest
    min_face: float = 1 / 12  # the smallest face searched for, as a share of the frame's short side
    smooth_frames: float = 2.0  # the Gaussian's sigma over time, in frames (0: as detected)
    steady: float = 2.0  # each face's change averaged over a centred Gaussian of this sigma, in frames (0: none)
    quality: int = DEFAULT_QUALITY
    keep_audio: bool = False
    copy_faceless: bool = False  # a clip with no face: written re-encoded, metadata gone
    force: bool = False
    judge_every: int = 5  # frames between the report attacker's judgements
    limits: VideoLimits = field(default_factory=VideoLimits)
    identity_threshold: float | None = None  # joining tracks into people (None: the identity module's)

    def check(self) -> None:
        if self.request.target is not None:
            raise InfoscrubError("a video gives each person one edit across its frames: --target does not apply")
        if self.request.randomise is not None:
            raise InfoscrubError("a video gives each person one edit across its frames: a randomised edit does "
                                 "not apply")
        for name, value in (("--detect-every", self.detect_every), ("judge_every", self.judge_every)):
            if value < 1:
                raise InfoscrubError(f"{name} must be at least 1, not {value}")
        if not 0 <= self.quality <= 51:
            raise InfoscrubError(f"--video-quality is the encoder's 0-51 scale (lower is better), not {self.quality}")
        if not 0 < self.min_face < 1:
            raise InfoscrubError(f"the smallest face is a share of the frame's side between 0 and 1, not {self.min_face}")
        if self.smooth_frames < 0:
            raise InfoscrubError(f"--smooth-frames must be 0 or more, not {self.smooth_frames}")
        if not 0 <= self.steady <= MAX_STEADY:
            raise InfoscrubError(f"--steady is a sigma in frames from 0 to {MAX_STEADY:g}, not {self.steady}")


@dataclass
class Analysis:
    """What the first pass found: the tracks, who is who, and each person's planned edit."""

    tracks: list[Track]
    person: dict[int, int]  # track id -> person
    plan: PersonEdits | None  # None: no face in the clip
    frames: int
    detector_frames: int

    def key_frames(self, per_person: int = 3, most: int = 12) -> list[int]:
        """A few frames that show each person: the first, middle and last of their time on screen."""
        chosen: set[int] = set()
        for who in sorted(set(self.person.values())):
            tracks = [t for t in self.tracks if self.person[t.id] == who]
            first, last = min(t.first for t in tracks), max(t.last for t in tracks)
            chosen.update([first, (first + last) // 2, last][:per_person])
        return sorted(chosen)[:most]


@dataclass
class KeyFrame:
    """A frame of the scrubbed clip for the HTML report, with its faces as a photo's report has them."""

    index: int
    time_s: float
    rgb: np.ndarray  # the scrubbed frame
    faces: list[dict[str, Any]]


@dataclass
class VideoResult:
    report: dict[str, Any]  # the JSON report
    key_frames: list[KeyFrame] = field(default_factory=list)


def scrub_video(scrubber: Scrubber, source: str | Path, destination: str | Path, options: VideoOptions,
                progress: Progress | None = None) -> VideoResult:
    """Scrub ``source`` into ``destination`` (written atomically): the report and a few key
    frames. A clip with no face writes nothing (status "no_face") unless
    ``options.copy_faceless``."""
    require_av()
    options.check()
    source, destination = Path(source), Path(destination)
    suffix = destination.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InfoscrubError(f"{destination}: a video is written as {', '.join(OUTPUT_FORMATS)}")
    if destination.exists() and not options.force:
        raise InfoscrubError(f"{destination} already exists; use --force to replace it")
    if destination.resolve() == source.resolve():
        raise InfoscrubError(f"{destination} is the input itself; write the scrubbed clip elsewhere")
    timings = Timings()
    started = time.perf_counter()
    with timings.stage("probe"):
        info = probe(source, options.limits)
    analysis = analyse(scrubber, source, info, options, timings, progress)
    report = base_report(scrubber, source, destination, info, options, analysis)
    if analysis.plan is None and not options.copy_faceless:
        report.update(status="no_face", output=None, message="no face found, nothing written")
        return VideoResult(finish(report, timings, started, analysis.frames))
    outcome = Outcome(analysis.person, list(options.request.attributes), set(analysis.key_frames()))

    def write(stream: Any) -> None:
        second_pass(scrubber, source, stream, suffix, info, options, analysis, outcome, timings, progress)

    write_atomic(write, destination, options.force)
    people = len(set(analysis.person.values()))
    message = (f"{people} person(s) in {len(analysis.person)} track(s), {analysis.frames} frames" if people
               else f"no face: {analysis.frames} frames copied clean (metadata stripped)")
    report.update(status="scrubbed" if people else "copied", people=outcome.people_report(analysis, info),
                  flicker=outcome.flicker.summary(), message=message)
    return VideoResult(finish(report, timings, started, analysis.frames), outcome.key_frames)


# ------------------------------------------------------------------ the first pass


def analyse(scrubber: Scrubber, source: Path, info: VideoInfo, options: VideoOptions, timings: Timings,
            progress: Progress | None) -> Analysis:
    linker = Linker(max_gap=max(3 * options.detect_every, int(round(info.fps / 2))))
    samples: dict[int, list[np.ndarray]] = {}
    strides: dict[int, int] = {}
    seen: dict[int, int] = {}
    best: dict[int, tuple[float, np.ndarray]] = {}  # track -> (score, identity crop)
    size, alignment = scrubber.size, scrubber.alignment
    # a clip's faces are rarely tiny: the search's smallest face follows the frame's size,
    # so a 1080p frame costs the detector what a 720p one does (never below a photo's 40 px)
    smallest = max(40.0, options.min_face * min(info.width, info.height))
    frames = detector_frames = 0
    for frame in timed(read_frames(source, info), timings, "decode"):
        frames += 1
        if frame.index % options.detect_every:
            continue
        detector_frames += 1
        with timings.stage("detect"):
            faces = detect_faces(frame.rgb, scrubber.detector, min_face=smallest)
            ids = linker.add(frame.index, faces)
        with timings.stage("align"):
            for face, track in zip(faces, ids):
                matrix = alignment_matrix(face.landmarks, alignment, size)
                seen[track] = seen.get(track, 0) + 1
                stride = strides.setdefault(track, 1)
                if (seen[track] - 1) % stride == 0:
                    kept = samples.setdefault(track, [])
                    kept.append((cut_crop(frame.rgb, matrix, size) * 255).round().astype(np.uint8))
                    if len(kept) >= 2 * PLAN_CROPS:  # keep the crops spread over the whole track
                        samples[track], strides[track] = kept[::2], stride * 2
                if scrubber.identity is not None and face.score > best.get(track, (-1.0, None))[0]:
                    best[track] = (face.score, identity_crops(frame.rgb, [matrix], size)[0])
        if progress:
            progress("analysing", frames, info.frames)
    tracks = linker.finished()
    if not tracks:
        return Analysis([], {}, None, frames, detector_frames)
    with timings.stage("people"):
        person = join_people(scrubber, tracks, best, options.identity_threshold)
    with timings.stage("plan"):
        plan = plan_edits(scrubber, samples, person, options.request)
    return Analysis(tracks, person, plan, frames, detector_frames)


def join_people(scrubber: Scrubber, tracks: list[Track], best: dict[int, tuple[float, np.ndarray]],
                threshold: float | None) -> dict[int, int]:
    """Track id -> person: with an identity embedder, tracks of one face-recognition group
    are one person; two tracks seen on the same frame are never joined. Without, each track
    is its own person."""
    if scrubber.identity is None or len(tracks) < 2:
        return {t.id: t.id for t in tracks}
    from infoscrub.faces.identity import THRESHOLD, group_faces

    ids = [t.id for t in tracks]
    embeddings = scrubber.identity.embed([best[i][1] for i in ids], scrubber.alignment)
    groups = group_faces(np.asarray(embeddings), THRESHOLD if threshold is None else threshold)
    person: dict[int, int] = {}
    members: dict[int, list[Track]] = {}
    for track, group in zip(tracks, groups):
        together = members.setdefault(int(group), [])
        if any(set(track.detected) & set(other.detected) for other in together):
            person[track.id] = track.id  # on screen together: two people, whatever the embedding says
            continue
        together.append(track)
        person[track.id] = together[0].id
    return person


def plan_edits(scrubber: Scrubber, samples: dict[int, list[np.ndarray]], person: dict[int, int],
               request: EditRequest) -> PersonEdits:
    import torch

    crops = [c for track in samples for c in samples[track]]
    groups = [person[track] for track in samples for _ in samples[track]]
    faces = torch.from_numpy(np.stack(crops).astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
    with torch.inference_mode():
        return plan_person_edits(scrubber.editor, faces, groups, list(request.attributes), request.mode)


# ------------------------------------------------------------------ the second pass


@dataclass
class Outcome:
    """What the second pass measured, per person: the attacker's beliefs summed over the
    judged frames, the frames each was edited on, a few key frames; the flicker."""

    person: dict[int, int]
    attributes: list[str]
    wanted_key_frames: set[int] = field(default_factory=set)
    key_frames: list[KeyFrame] = field(default_factory=list)
    flicker: FlickerMeter = field(default_factory=FlickerMeter)
    beliefs: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # person -> attr -> [before, after, n]
    edited_frames: dict[int, int] = field(default_factory=dict)  # track -> frames edited
    readings: dict[int, list[tuple[int, dict[str, bool]]]] = field(default_factory=dict)  # person -> (frame, read present?)

    def judged(self, track: int, frame: int, before: dict[str, float], after: dict[str, float]) -> None:
        who = self.person[track]
        sums = self.beliefs.setdefault(who, {})
        for name in before:
            entry = sums.setdefault(name, [0.0, 0.0, 0])
            entry[0] += before[name]
            entry[1] += after[name]
            entry[2] += 1
        self.readings.setdefault(who, []).append((frame, {a: after[a] > 0.5 for a in self.attributes if a in after}))

    def flips(self, who: int) -> dict[str, int]:
        """Per chosen attribute: how often the attacker's reading of the scrubbed face changed
        side between one judged frame and the next (an edit that shows one value in some
        frames and the other in others gives itself away to whoever watches or averages)."""
        seen = [reading for _, reading in sorted(self.readings.get(who, []), key=lambda r: r[0])]
        return {a: sum(1 for one, two in zip(seen, seen[1:]) if a in one and a in two and one[a] != two[a])
                for a in self.attributes}

    def people_report(self, analysis: Analysis, info: VideoInfo) -> list[dict[str, Any]]:
        out = []
        for who in sorted(set(self.person.values())):
            tracks = [t for t in analysis.tracks if self.person[t.id] == who]
            first, last = min(t.first for t in tracks), max(t.last for t in tracks)
            sums = self.beliefs.get(who, {})
            attacker = {name: {"p_before": round(b / n, 4), "p_after": round(a / n, 4), "frames_judged": int(n)}
                        for name, (b, a, n) in sums.items() if n}
            spans = [(t.first, t.last) for t in tracks]
            key = sorted(k.index for k in self.key_frames if any(a <= k.index <= b for a, b in spans))
            out.append({
                "person": who, "tracks": [t.id for t in tracks],
                "frames": sum(self.edited_frames.get(t.id, 0) for t in tracks),
                "detected_on": sum(len(t.detected) for t in tracks),
                "first_frame": first, "last_frame": last,
                "missed_frames": sorted(f for t in tracks for f in t.missed),
                "attributes_hidden": list(self.attributes),
                "attacker": {n: attacker[n] for n in self.attributes if n in attacker},
                "attacker_other": {n: v for n, v in attacker.items() if n not in self.attributes},
                "attacker_flips": self.flips(who) if attacker else {},
                "key_frames": key,
                "flicker": self.flicker.summary([t.id for t in tracks]),
            })
        return out


@dataclass
class EditedFrame:
    """A frame whose faces the model has edited, waiting for the frames after it: its steady
    change (``video.steady``) takes them in."""

    frame: Frame
    present: list[int]  # the tracks on it
    landmarks: list[np.ndarray]
    matrices: list[np.ndarray]
    crops: list[np.ndarray]


def second_pass(scrubber: Scrubber, source: Path, stream: Any, suffix: str, info: VideoInfo, options: VideoOptions,
                analysis: Analysis, outcome: Outcome, timings: Timings, progress: Progress | None) -> None:
    av = require_av()
    dense = {t.id: reach_past_ends(dense_landmarks(t, options.smooth_frames), info.width, info.height,
                                   options.detect_every) for t in analysis.tracks}
    smoother = EditSmoother(options.steady)
    waiting: deque[EditedFrame] = deque()  # edited, not yet written: the last ``reach`` frames
    template = av.open(str(source), metadata_errors="ignore") if options.keep_audio and info.audio else None
    try:
        writer = VideoWriter(stream, suffix, info, options.quality,
                             audio_from=template.streams.audio[0] if template is not None else None)

        def write_up_to(last: float) -> None:
            while waiting and waiting[0].frame.index <= last:
                edited = waiting.popleft()
                output = finish_frame(scrubber, edited, analysis, options, outcome, smoother, timings)
                smoother.forget(edited.frame.index + 1)
                with timings.stage("encode"):
                    writer.write(output, edited.frame.pts)
                if progress:
                    progress("scrubbing", edited.frame.index + 1, analysis.frames)

        for item in timed(read_frames(source, info, audio_packets=template is not None), timings, "decode"):
            if not isinstance(item, Frame):
                writer.copy(item)  # the muxer interleaves it with the frames still waiting
                continue
            waiting.append(edit_frame(scrubber, item, dense, analysis, timings, smoother, options))
            write_up_to(item.index - smoother.reach)
        write_up_to(float("inf"))
        with timings.stage("encode"):
            writer.close()
    finally:
        if template is not None:
            template.close()


def edit_frame(scrubber: Scrubber, frame: Frame, dense: dict[int, dict[int, np.ndarray]], analysis: Analysis,
               timings: Timings, smoother: EditSmoother, options: VideoOptions) -> EditedFrame:
    """Every tracked face on the frame cut out and edited by its person's plan; each change
    (edit minus face, in the face's own coordinates) goes to ``smoother``."""
    import torch

    present = [track for track, series in dense.items() if frame.index in series]
    if not present or analysis.plan is None:
        return EditedFrame(frame, [], [], [], [])
    size = scrubber.size
    with timings.stage("align"):
        landmarks = [dense[t][frame.index] for t in present]
        matrices = [alignment_matrix(lm, scrubber.alignment, size) for lm in landmarks]
        crops = [cut_crop(frame.rgb, m, size) for m in matrices]
    with timings.stage("model"), torch.inference_mode():
        faces = to_model(crops, scrubber.device)
        edited = from_model(edit_people(scrubber.editor, faces, [analysis.person[t] for t in present],
                                        analysis.plan, options.request.strength))
    for track, crop, change in zip(present, crops, edited):
        smoother.add(track, frame.index, change - crop)
    return EditedFrame(frame, present, landmarks, matrices, crops)


def finish_frame(scrubber: Scrubber, edited: EditedFrame, analysis: Analysis, options: VideoOptions,
                 outcome: Outcome, smoother: EditSmoother, timings: Timings) -> np.ndarray:
    """The frame with each face's steady change pasted back; judged, measured, kept as a key
    frame where due."""
    from infoscrub.faces.paste import paste_changes

    frame, present, matrices, size = edited.frame, edited.present, edited.matrices, scrubber.size
    if not present:
        return frame.rgb
    with timings.stage("steady"):
        faces = [crop + smoother.steady(track, frame.index) for track, crop in zip(present, edited.crops)]
    with timings.stage("paste"):
        output = paste_changes(frame.rgb, list(zip(edited.crops, faces, matrices)), scrubber.feather)
    for track in present:
        outcome.edited_frames[track] = outcome.edited_frames.get(track, 0) + 1
    key = frame.index in outcome.wanted_key_frames
    if scrubber.attacker is not None and (frame.index % options.judge_every == 0 or key):
        with timings.stage("report"):
            before = scrubber.judge(edited.crops) or []
            after = scrubber.judge([cut_crop(output, m, size) for m in matrices]) or []
            if frame.index % options.judge_every == 0:
                for track, b, a in zip(present, before, after):
                    outcome.judged(track, frame.index, b, a)
    if key:
        shown = [key_face(n, analysis.person[t], lm, list(options.request.attributes),
                          before[n] if scrubber.attacker is not None else None,
                          after[n] if scrubber.attacker is not None else None)
                 for n, (t, lm) in enumerate(zip(present, edited.landmarks))]
        outcome.key_frames.append(KeyFrame(frame.index, frame.time_s, output, shown))
    with timings.stage("flicker"):
        squares = [face_square(m, scrubber.alignment, size, outcome.flicker.size) for m in matrices]
        outcome.flicker.add(frame.index, frame.rgb, output, dict(zip(present, squares)))
    return output


def face_square(matrix: np.ndarray, alignment: str, size: int, side: int) -> np.ndarray:
    """frame -> the face itself (the aligned crop's face box, ``identity.FACE_BOX``) at ``side``
    px: the flicker is measured on the face, not on the background the crop also holds."""
    from infoscrub.faces.identity import FACE_BOX

    x0, y0, x1, y1 = (v * size for v in FACE_BOX.get(alignment, (0.0, 0.0, 1.0, 1.0)))
    to_square = np.array([[side / (x1 - x0), 0.0, -x0 * side / (x1 - x0)],
                          [0.0, side / (y1 - y0), -y0 * side / (y1 - y0)], [0.0, 0.0, 1.0]])
    return (to_square @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]


# ------------------------------------------------------------------ the report


def key_face(index: int, person: int, landmarks: np.ndarray, chosen: list[str], before: dict[str, float] | None,
             after: dict[str, float] | None) -> dict[str, Any]:
    """A face of a key frame as a photo's report gives it (what the HTML report draws)."""
    from infoscrub.scrub_report import belief_numbers

    x1, y1, x2, y2 = box_of(landmarks)
    face: dict[str, Any] = {"index": index, "box": [round(v, 1) for v in (x1, y1, x2, y2)], "edited": True,
                            "attributes_edited": list(chosen), "person": person}
    if before is not None and after is not None:
        face["attacker"] = {name: belief_numbers(p, after[name]) for name, p in before.items()}
    return face



def base_report(scrubber: Scrubber, source: Path, destination: Path, info: VideoInfo, options: VideoOptions,
                analysis: Analysis) -> dict[str, Any]:
    request = options.request
    audio = ("none" if info.audio is None else f"copied unchanged ({info.audio})" if options.keep_audio
             else f"dropped ({info.audio}; --keep-audio copies it)")
    return {
        "kind": "video", "input": str(source), "output": str(destination),
        "mode": request.mode, "strength": request.strength, "attributes": list(request.attributes),
        "alignment": scrubber.alignment, "image_size": scrubber.size,
        "attacker": None if scrubber.attacker is None else list(scrubber.attacker.attributes),
        "phrases": {a: PHRASES[a] for a in (list(scrubber.attacker.attributes) if scrubber.attacker is not None
                                             else list(request.attributes)) if a in PHRASES},
        "video": {"width": info.width, "height": info.height, "rotation_applied": info.rotation,
                  "fps": round(info.fps, 4), "frames": analysis.frames, "duration_s": round(info.duration_s, 3),
                  "codec_in": info.codec, "pixel_format_in": info.pixel_format,
                  "codec_out": OUTPUT_FORMATS[destination.suffix.lower()][1], "quality": options.quality,
                  "audio": audio, "streams_dropped": list(info.dropped_streams),
                  "metadata_written": "none"},
        "detection": {"every": options.detect_every, "frames_run": analysis.detector_frames,
                      "smoothing_sigma_frames": options.smooth_frames,
                      "steady_sigma_frames": options.steady, "tracks": len(analysis.tracks),
                      "people": len(set(analysis.person.values()))},
        "judged_every": options.judge_every,
    }


def finish(report: dict[str, Any], timings: Timings, started: float, frames: int) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    report["timings_s"] = {k: round(v, 3) for k, v in timings.seconds.items()}
    report["seconds"] = round(seconds, 3)
    report["frames_per_second"] = round(frames / seconds, 3) if seconds > 0 else None
    return report


def timed(items, timings: Timings, stage: str):
    """``items`` with the time spent producing each one added to ``stage``."""
    iterator = iter(items)
    while True:
        with timings.stage(stage):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item


def scrub_video_file(scrubber: Scrubber, source: Path, destination: Path, options: VideoOptions,
                     progress: Progress | None = None, digest: str | None = None
                     ) -> tuple[PhotoResult, VideoResult | None]:
    """``scrub_video`` as one entry of a folder run: a problem is the entry's, never the run's.
    ``digest``: the clip's SHA-256 when the caller has it (a clip is not read twice for it)."""
    result = PhotoResult({"input": str(source), "output": None})
    try:
        result.entry["sha256"] = digest or file_sha256(source)
        video = scrub_video(scrubber, source, destination, options, progress)
    except Exception as exc:  # one clip's problem is its entry's
        failed(result, exc)
        return result, None
    result.entry.update(video.report)
    return result, video


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InfoscrubError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def report_items(source: Path, video: VideoResult) -> list[dict[str, Any]]:
    """The clip's key frames as the HTML report's photos (``privacy_report``), each saying
    who is on it and what the attacker believed of them over all their frames."""
    from infoscrub.privacy_report import preview_data_url

    report = video.report
    people = {p["person"]: p for p in report.get("people", [])}
    items = []
    for key in video.key_frames:
        height, width = key.rgb.shape[:2]
        drawn = {"mode": report["mode"], "strength": report["strength"], "attributes": report["attributes"],
                 "width": width, "height": height, "faces_found": len(key.faces), "faces": key.faces,
                 "phrases": report.get("phrases", {})}
        shown = sorted({face["person"] for face in key.faces})
        status = f"frame {key.index} ({key.time_s:.2f} s). " + " ".join(person_sentence(people[p]) for p in shown
                                                                           if p in people)
        items.append({"title": f"{source.name}, frame {key.index}", "status": status, "report": drawn,
                      "before": None, "after": preview_data_url(key.rgb)})
    if not items:
        items.append({"title": source.name, "status": report.get("message", ""), "report": None,
                      "before": None, "after": None})
    return items


def person_sentence(person: dict[str, Any]) -> str:
    """'Person 0 (frames 0-119, 120 edited; missed on 2): Male 0.81 -> 0.22 over 24 frames.'"""
    beliefs = ", ".join(f"{name} {v['p_before']:.2f} -> {v['p_after']:.2f}"
                        for name, v in person.get("attacker", {}).items())
    judged = max((v["frames_judged"] for v in person.get("attacker", {}).values()), default=0)
    missed = f"; missed by the detector on {len(person['missed_frames'])}, edited there too" \
        if person["missed_frames"] else ""
    text = (f"Person {person['person']} (frames {person['first_frame']}-{person['last_frame']}, "
            f"{person['frames']} edited{missed})")
    return text + (f": the attacker's belief {beliefs}, averaged over {judged} frames." if beliefs else ".")
