"""``infoscrub scrub``: hide chosen attributes of the faces in photos (a thin layer over
``infoscrub.scrubber.Scrubber``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from infoscrub.edit_request import MODES
from infoscrub.errors import InfoscrubError, NoFaceFound

if TYPE_CHECKING:
    from infoscrub.video.job import VideoOptions


def suffix_formats() -> dict[str, str]:
    """Photo file suffix -> format name (".jpg" -> "JPEG"), from photo_io's table; imported
    here, not at the top, so that building the parser stays light."""
    from infoscrub.photo_io import FORMAT_BY_SUFFIX
    return FORMAT_BY_SUFFIX


def register(sub: argparse._SubParsersAction) -> None:
    scrub = sub.add_parser(
        "scrub", help="invert or obfuscate chosen attributes of every face in photos",
        description="Find every face, invert (believable false value) or obfuscate "
        "(attacker maximally unsure) the chosen attributes, paste the change back at full "
        "resolution and write the photo in its own format with no metadata (EXIF, XMP, "
        "IPTC, GPS, thumbnails); only the ICC colour profile is kept, without its text. "
        "Exit status: 0 every photo written; 3 a photo had no face, so nothing was written "
        "for it (--copy-faceless writes it unchanged, metadata stripped); 2 a photo, file or "
        "setting was wrong (a folder run goes on with the other photos and says which).")
    scrub.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files or folders")
    scrub.add_argument("--attributes", required=True,
                       help="comma-separated attribute names, e.g. Male,Young")
    scrub.add_argument("--mode", choices=MODES, default="invert",
                       help="invert the attributes or make them undecidable (default invert)")
    scrub.add_argument("--output", required=True,
                       help="output file (one input photo) or folder (several, or a folder)")
    scrub.add_argument("--faces", help="edit only these faces, numbered left to right from 0 "
                       "(e.g. 0,2); default: all")
    scrub.add_argument("--strength", type=float, default=None,
                       help="how much of the edit to apply, 0-1 (default 1)")
    scrub.add_argument("--target", action="store_true",
                       help="instead of --strength, the smallest strength per face that reaches a goal "
                       "against the report attacker: invert, its belief crosses 0.5 by --target-margin; "
                       "obfuscate, its belief within --target-tolerance of 0.5")
    scrub.add_argument("--target-margin", type=float, default=0.2, help="invert goal margin (default 0.2)")
    scrub.add_argument("--target-tolerance", type=float, default=0.05,
                       help="obfuscate goal: |p - 0.5| at most this (default 0.05)")
    scrub.add_argument("--target-after", metavar="CHANNEL", help="the goal must also hold after this "
                       "sharing channel (e.g. jpeg75)")
    # No --randomise: the randomised defences (random strength, extra flips, noise on the mixing
    # map) were measured against the adaptive attacker on the shipped weights and none lowered
    # what it reads (docs/privacy.md); `evaluate --adaptive-policy` still measures them.
    scrub.add_argument("--aligned", action="store_true",
                       help="inputs are already aligned face crops in the model's convention "
                       "(no detection); folder in, folder out, same file names")
    scrub.add_argument("--report", action="append", default=[], metavar="FILE",
                       help="write the privacy report here: FILE.html is a self-contained page to look at "
                       "(the scrubbed photo with numbered faces, the attacker's beliefs in plain language; no "
                       "original photo, path or hash unless --report-originals), any other name JSON (with the "
                       "input paths and SHA-256 hashes, no pixels); repeat it for both")
    scrub.add_argument("--report-originals", action="store_true",
                       help="also put the original photos in the HTML report (a before/after slider), under a "
                       "warning: whoever sees that file sees every face unscrubbed")
    scrub.add_argument("--force", action="store_true",
                       help="replace existing output files and report")
    scrub.add_argument("--copy-faceless", action="store_true",
                       help="write photos with no face too (metadata stripped); default: skip")
    scrub.add_argument("--checkpoint", help="model weights (default: the bundled ones)")
    scrub.add_argument("--attacker", help="attacker weights for the report (default: bundled)")
    scrub.add_argument("--device", default="cpu", help="torch device (default cpu)")
    scrub.add_argument("--no-identity", action="store_true",
                       help="skip the check that each edited face is still the same person (it runs when "
                       "the extra infoscrub[identity] is installed; about 0.12 s a face)")
    scrub.add_argument("--album", action="store_true",
                       help="treat the photos as one album: group the faces into people by face recognition "
                       "(needs infoscrub[identity]) and give each person the same edit in every photo (the same "
                       "values shown when inverting, the same mixing when obfuscating), so no photo contradicts "
                       "another; the report lists the people, their photos and the outcome per person")
    scrub.add_argument("--album-threshold", type=float, default=None, metavar="D",
                       help="face-recognition distance below which two faces are one person (default 0.6)")
    scrub.add_argument("--max-megapixels", type=float, default=None,
                       help="refuse larger photos (default 120) or video frames (default 8.3, 4K)")
    video = scrub.add_argument_group("videos", "clips (.mp4 .mov .m4v .mkv .webm .avi; needs infoscrub[video]): "
                                     "every face tracked across the frames, one edit per person, written as a "
                                     "new clip (H.264, or VP9 for .webm) with no metadata")
    video.add_argument("--detect-every", type=int, default=1, metavar="K",
                       help="run the face detector on every K-th frame and follow the faces between (default 1)")
    video.add_argument("--min-face", type=float, default=1 / 12, metavar="SHARE",
                       help="the smallest face searched for, as a share of the frame's short side (default "
                       "1/12: 60 px at 720p); smaller finds smaller faces, slower")
    video.add_argument("--steady", type=float, default=2.0, metavar="SIGMA",
                       help="average each face's edit over the frames around it, a Gaussian of SIGMA frames "
                       "(default 2; 0: each frame its own edit); damps the edit's flicker")
    video.add_argument("--video-quality", type=int, default=None, metavar="Q",
                       help="the encoder's constant quality, 0-51, lower is better (default 20)")
    video.add_argument("--keep-audio", action="store_true",
                       help="copy the audio unchanged (default: dropped, since a voice identifies)")
    video.add_argument("--max-seconds", type=float, default=600.0, help="refuse longer clips (default 600)")
    scrub.set_defaults(handler=run_scrub)


@dataclass(frozen=True)
class Job:
    source: Path
    destination: Path


def list_photos(folder: Path) -> list[Path]:
    """The photos and videos of a folder, by name."""
    from infoscrub.video.container import is_video

    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and (p.suffix.lower() in suffix_formats() or is_video(p)))


def plan_jobs(inputs: list[str], output: str) -> list[Job]:
    """Pair every input photo with its output path; refuse clashes before any work."""
    sources: list[Path] = []
    single_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = list_photos(path)
            if not found:
                raise InfoscrubError(
                    f"{path} holds no photos or videos ({', '.join(sorted(suffix_formats()))}, .mp4, ...)")
            sources.extend(found)
        elif path.is_file():
            sources.append(path)
        else:
            raise InfoscrubError(f"{path} does not exist")
    out = Path(output)
    if single_file and not out.is_dir() and not output.endswith(("/", "\\")):
        return [Job(sources[0], out)]
    if out.exists() and not out.is_dir():
        raise InfoscrubError(f"--output {out} is a file; several photos need a folder")
    from infoscrub.video.container import written_name

    jobs = [Job(s, out / written_name(s)) for s in sources]
    seen: dict[str, Path] = {}
    for job in jobs:
        if job.destination.name in seen:
            raise InfoscrubError(f"{seen[job.destination.name]} and {job.source} would both be "
                                 f"written to {job.destination}; scrub them separately")
        seen[job.destination.name] = job.source
    return jobs


def run_scrub(args: argparse.Namespace) -> int:
    from infoscrub.attributes import parse_attribute_list, resolve_attributes
    from infoscrub.edit_request import EditRequest
    from infoscrub.photo_io import write_bytes_atomic
    from infoscrub.photo_job import ScrubOptions, scrub_album_files, scrub_file
    from infoscrub.scrubber import Scrubber, parse_face_indices
    from infoscrub.video.container import is_video

    if not parse_attribute_list(args.attributes):
        raise InfoscrubError("--attributes is empty; give at least one name")
    parse_face_indices(args.faces)  # fail on a typo before loading anything
    target = target_from_args(args)
    check_album_args(args)
    strength = 1.0 if args.strength is None else args.strength
    # the mode and strength checked before any model loads
    request = EditRequest(args.attributes, args.mode, strength, target).checked()
    jobs = plan_jobs(args.inputs, args.output)
    video_options = video_options_from(args, request) if any(is_video(job.source) for job in jobs) else None
    for report_path in args.report:
        if Path(report_path).exists() and not args.force:
            raise InfoscrubError(f"{report_path} already exists; use --force to replace it")
    html_wanted = any(is_html(r) for r in args.report)
    if args.report_originals and not html_wanted:
        raise InfoscrubError("--report-originals adds the originals to an HTML report; give --report FILE.html")
    previews: list[dict] = []
    if not args.force:
        existing = [j.destination for j in jobs if j.destination.exists()]
        if existing:
            raise InfoscrubError(f"{existing[0]} already exists; use --force to replace it")
    max_pixels = int((120.0 if args.max_megapixels is None else args.max_megapixels) * 1e6)
    if args.album:
        from infoscrub.faces.identity import shared_embedder

        shared_embedder()  # the grouping needs the identity extra: say so before any work
    scrubber = Scrubber.load(args.checkpoint, attacker=args.attacker, device=args.device,
                             identity=False if args.no_identity else None)
    attributes = resolve_attributes(args.attributes, scrubber.attributes)

    request = replace(request, attributes=attributes)
    options = ScrubOptions(request, faces=args.faces, aligned=args.aligned, copy_faceless=args.copy_faceless,
                           force=args.force, max_pixels=max_pixels)
    entries: list[dict] = []
    failures: list[str] = []
    faceless: list[str] = []
    album = None
    if args.album:
        photos, album = scrub_album_files(scrubber, [(j.source, j.destination) for j in jobs], options,
                                          threshold=args.album_threshold)
        results = ((photo, None) for photo in photos)
    else:  # one by one, each written before the next is read; a clip with its key frames
        results = (scrub_video_job(scrubber, job, replace(video_options, request=request)) if is_video(job.source)
                   else (scrub_file(scrubber, job.source, job.destination, options), None) for job in jobs)
    for job, (result, video) in zip(jobs, results):
        entry = result.entry
        if result.error is not None:
            if len(jobs) == 1:
                raise result.error
            failures.append(shown(job.source))
            print(f"infoscrub: {shown(job.source)}: {readable(entry['message'])}", file=sys.stderr)
        elif entry["status"] == "no_face":
            faceless.append(shown(job.source))
            print(f"{shown(job.source)}: no face found, nothing written", file=sys.stderr)
        else:
            print(f"{shown(job.source)} -> {shown(job.destination)}: {entry['message']}")
        for face in entry.get("faces", []):  # a goal not reached is said, never passed silently
            if "target" in face and not face["target"]["reached"]:
                print(f"{shown(job.source)}: face {face['index']} did not reach the goal "
                      f"({face['target']['goal']}; strength {face['strength']}, p "
                      + ", ".join(f"{a} {p:.2f}" for a, p in face["target"]["p_final"].items()) + ")",
                      file=sys.stderr)
        if html_wanted and is_video(job.source):
            from infoscrub.video.job import report_items

            if video is not None:
                previews.extend(report_items(job.source, video))
        elif html_wanted:
            from infoscrub.privacy_report import report_item

            previews.append(report_item(job.source, job.destination, entry,
                                        result.photo.rgb if result.photo else None,
                                        result.edited.rgb if result.edited else None, args.report_originals))
        entries.append(entry)

    if album is not None:
        print_people(album)
    for report_path in args.report:
        if is_html(report_path):
            from infoscrub.privacy_report import render_html

            text = render_html(previews, album, originals=args.report_originals)
        else:
            text = json.dumps({"photos": entries, **({"album": album} if album else {})}, indent=2) + "\n"
        write_bytes_atomic(text.encode("utf-8"), report_path, force=args.force)
    if failures:
        raise InfoscrubError(f"{len(failures)} of {len(jobs)} photos could not be scrubbed "
                             f"(first: {failures[0]})")
    if faceless:
        raise NoFaceFound(f"no face found in {len(faceless)} of {len(jobs)} photos, nothing written "
                          f"for {'it' if len(faceless) == 1 else 'them'} (first: {faceless[0]}); "
                          "--copy-faceless writes them with their metadata stripped")
    return 0


def video_options_from(args: argparse.Namespace, request) -> VideoOptions:
    """The clips' settings, checked before any model loads. A clip gives each person one edit
    across its frames: the options that choose per face or per photo do not apply to it."""
    from infoscrub.video.container import DEFAULT_QUALITY, VideoLimits
    from infoscrub.video.job import VideoOptions

    clashing = [flag for flag, on in (("--album", args.album), ("--target", args.target),
                                      ("--faces", args.faces is not None), ("--aligned", args.aligned),
                                      ("--report-originals", args.report_originals)) if on]
    if clashing:
        raise InfoscrubError(f"a video gives each person one edit across its frames; {clashing[0]} does not "
                             "apply to videos (scrub them apart from the photos)")
    options = VideoOptions(request, detect_every=args.detect_every, min_face=args.min_face, steady=args.steady,
                           quality=DEFAULT_QUALITY if args.video_quality is None else args.video_quality,
                           keep_audio=args.keep_audio, copy_faceless=args.copy_faceless, force=args.force,
                           limits=VideoLimits(max_pixels=VideoLimits().max_pixels if args.max_megapixels is None
                                              else int(args.max_megapixels * 1e6), max_seconds=args.max_seconds))
    options.check()
    return options


def scrub_video_job(scrubber, job: Job, options: VideoOptions):
    """One clip, with a progress line on a terminal: (its entry, its key frames)."""
    from infoscrub.video.job import scrub_video_file

    line = ProgressLine(shown(job.source)) if sys.stderr.isatty() else None
    try:
        return scrub_video_file(scrubber, job.source, job.destination, options, line)
    finally:
        if line is not None:
            line.done()


class ProgressLine:
    """'clip.mp4: scrubbing 120/300 frames, 11.2 frames/s, 16 s left' on one terminal line."""

    def __init__(self, name: str):
        import time

        self.name, self.clock, self.started, self.stage = name, time.perf_counter, time.perf_counter(), ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.stage, self.started = stage, self.clock()
        if done % 10 and done != total:
            return
        print("\r" + progress_text(self.name, stage, done, total, self.clock() - self.started), end="",
              file=sys.stderr, flush=True)

    def done(self) -> None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def progress_text(name: str, stage: str, done: int, total: int, seconds: float) -> str:
    rate = done / seconds if seconds > 0 else 0.0
    left = f", {max(0.0, (total - done) / rate):.0f} s left" if rate > 0 and total else ""
    return f"{name}: {stage} {done}/{total or '?'} frames, {rate:.1f} frames/s{left}"


def check_album_args(args: argparse.Namespace) -> None:
    """--album edits people, not faces one by one: the options that choose per face clash."""
    if not args.album:
        if args.album_threshold is not None:
            raise InfoscrubError("--album-threshold needs --album")
        return
    clashing = [flag for flag, on in (("--target", args.target), ("--faces", args.faces is not None),
                                      ("--aligned", args.aligned)) if on]
    if clashing:
        raise InfoscrubError(f"--album gives every person one edit across the photos; {clashing[0]} does not "
                             "apply to it")
    if args.album_threshold is not None:
        from infoscrub.faces.identity import check_threshold

        check_threshold(args.album_threshold, "--album-threshold")


def print_people(album: dict) -> None:
    """One line per person of the album: their photos and what every photo of them shows."""
    print(f"album: {len(album['people'])} people among {album['faces']} faces in {album['photos']} photos "
          f"(face-recognition distance < {album['grouping']['threshold']}); each person has one edit in every "
          + ("photo: the same values shown" if album["mode"] == "invert" else "photo: one mixing map"))
    for person in album["people"]:
        photos = ", ".join(readable(Path(p).name) for p in person["photos"])
        if person["edited"]:
            done = "; ".join(f"{a} read {o['value']}, shown {o['shown']}" for a, o in person["outcome"].items())
        else:
            done = "not edited"
        over = "; ".join(f"{a} p {v['p_before']:.2f} -> {v['p_after']:.2f}"
                         for a, v in person["attacker_over_album"].items())
        print(f"  person {person['person']}: {person['faces']} face(s) in {photos}: {done}"
              + (f" (attacker averaged over their {person['faces']} face(s): {over})" if over else ""))


def target_from_args(args: argparse.Namespace):
    """The per-face goal of --target (None without it); one-line errors for bad values."""
    if not args.target:
        if args.target_after:
            raise InfoscrubError("--target-after needs --target")
        return None
    from infoscrub.sharing import CHANNELS
    from infoscrub.edit_request import Target

    if args.strength is not None:
        raise InfoscrubError("--target chooses the strength per face; drop --strength")
    if not 0 < args.target_margin < 0.5 or not 0 < args.target_tolerance < 0.5:
        raise InfoscrubError("--target-margin and --target-tolerance must be between 0 and 0.5")
    if args.target_after and args.target_after not in CHANNELS:
        raise InfoscrubError(f"unknown sharing channel {args.target_after!r}; choose from {', '.join(CHANNELS)}")
    return Target(margin=args.target_margin, tolerance=args.target_tolerance, after=args.target_after)


def is_html(path: str) -> bool:
    return Path(path).suffix.lower() in (".html", ".htm")


def readable(text: str) -> str:
    """Text as a terminal in a strict UTF-8 locale can print it (non-UTF-8 file name bytes
    as \\xNN)."""
    from infoscrub.privacy_report import readable as escaped

    return escaped(text)


def shown(path: Path | str) -> str:
    return readable(str(path))
