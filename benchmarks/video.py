"""Clips through the video pipeline: speed stage by stage, flicker against frame-by-frame
scrubbing, and face detection on every frame against every k-th.

    .venv/bin/python benchmarks/video.py [--frames 48] [--faces ../shared/data/celeba_aligned_sample]
        [--parts speed,flicker,steady,detect]

Clips are made from still faces (``infoscrub.video.synthetic``: no video data ships): the
people of the CelebA sample when ``--faces`` is there (two photos of one person for the
changing expression), else scikit-image's astronaut. The bundled weights edit.

1. speed: frames/s of `scrub` on a pan at 1280x720 and 1920x1080, with one and with three
   faces, detection on every frame and on every 3rd; seconds per frame of each stage.
2. flicker: per scenario and mode, the edit's frame-to-frame change on each face in its own
   coordinates (``video.flicker``, under the clip's true placements) for the tracked
   pipeline and for every frame scrubbed as a photo of its own; the ratio between them.
3. steady: the sigma, in frames, of the centred window each face's change is averaged over
   (``--steady``: 0, 1, 2, 4), against frame-by-frame scrubbing.
4. detect: detection every 1, 2, 3, 5 frames: the landmarks' jitter in the face's own
   coordinates (px on a 64-px face square; rigid faces, so the truth is constant), the
   flicker, and the frames/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

STAGES = ("decode", "detect", "align", "plan", "model", "paste", "report", "flicker", "encode")


def people(folder: Path | None) -> list[list[np.ndarray]]:
    """Photos of several people as 256-px face squares, two per person where there are."""
    if folder is None or not (folder / "identity_CelebA.txt").is_file():
        from conftest_faces import astronaut

        face = cv2.resize(astronaut()[30:330, 80:380], (256, 256))
        return [[face, np.ascontiguousarray(face[:, ::-1])]]
    names: dict[str, list[str]] = {}
    for line in (folder / "identity_CelebA.txt").read_text().split("\n"):
        if line.strip():
            name, who = line.split()
            names.setdefault(who, []).append(name)

    def square(name: str) -> np.ndarray:
        image = np.asarray(Image.open(folder / "img_align_celeba" / name).convert("RGB"))
        return cv2.resize(image[20:198], (256, 256), interpolation=cv2.INTER_AREA)

    return [[square(n) for n in names[who][:2]] for who in sorted(names)[:4]]


def make_clip(path: Path, scenario: str, faces: list[np.ndarray], width: int, height: int, frames: int,
              **kwargs) -> list:
    from infoscrub.video.synthetic import SCENARIOS, render, write_clip

    movers = SCENARIOS[scenario](faces)
    if scenario == "expressions":
        movers[0].other = kwargs.pop("other")
    rendered = list(render(movers, width, height, frames, **kwargs))
    write_clip(path, [f for f, _ in rendered], fps=25)
    return [[None if p is None else p.matrix for p in placed] for _, placed in rendered]


ATTRIBUTES = ["Male", "Smiling", "Young", "Eyeglasses"]
STEADY = (0.0, 1.0, 2.0, 4.0)  # the --steady sigmas compared
# Flicker is measured on clips written at x264's CRF 0: at the default quality the encoder's
# own frame-to-frame noise (0.70 levels on a pan with no edit at all, of the source's 0.95)
# buries the edit's; at CRF 0 what is left of it (chroma subsampling, rounding) is the
# "no edit" column, the floor every method pays.
FLICKER_QUALITY = 0


def run(scrubber, source: Path, out: Path, mode: str, detect_every: int = 1, judge_every: int = 5, **options):
    """``scrub`` on a clip; ``options``: further VideoOptions (quality, steady)."""
    from infoscrub.edit_request import EditRequest
    from infoscrub.video.job import VideoOptions, scrub_video

    request = scrubber.check_request(EditRequest(ATTRIBUTES, mode))
    settings = VideoOptions(request, detect_every=detect_every, judge_every=judge_every, force=True, **options)
    return scrub_video(scrubber, source, out, settings).report


def frame_by_frame(scrubber, source: Path, out: Path, mode: str, edit=None) -> list:
    """Every frame scrubbed as a photo of its own, written for the flicker meter; ``edit``
    stands in for the editor (the no-edit floor)."""
    from infoscrub.edit_request import EditRequest
    from infoscrub.video.compare import scrub_frame_by_frame

    real = scrubber.editor.edit
    scrubber.editor.edit = edit or real
    try:
        return scrub_frame_by_frame(scrubber, source, out, EditRequest(ATTRIBUTES, mode), quality=FLICKER_QUALITY)
    finally:
        scrubber.editor.edit = real


def no_edit(faces, *args, **kwargs):
    return faces


def speed(scrubber, faces, frames: int, tmp: Path) -> None:
    print("\n## Speed (2-core CPU): frames/s and seconds per frame of each stage")
    print("| clip | faces | detect every | frames/s | " + " | ".join(STAGES) + " |")
    print("|---|---|---|---|" + "---|" * len(STAGES))
    for width, height in ((1280, 720), (1920, 1080)):
        for scenario, count in (("pan", 1), ("three_faces", 3)):
            clip = tmp / f"{scenario}_{height}.mp4"
            make_clip(clip, scenario, [p[0] for p in faces] * 3, width, height, frames)
            for k in (1, 3):
                report = run(scrubber, clip, tmp / "out.mp4", "invert", k)
                per = {s: report["timings_s"].get(s, 0.0) / report["video"]["frames"] for s in STAGES}
                print(f"| {width}x{height} {scenario} | {count} ({report['detection']['tracks']} tracked) | {k} | "
                      f"{report['frames_per_second']:.1f} | " + " | ".join(f"{per[s]:.4f}" for s in STAGES) + " |")


def flicker(scrubber, faces, frames: int, tmp: Path) -> None:
    from infoscrub.video.compare import clip_flicker, reading_flips

    print("\n## Flicker: the edit's frame-to-frame change on each face (0-255 levels, 4x4 means; clips "
          f"written at CRF {FLICKER_QUALITY}), tracked vs frame by frame, with the floor of writing the "
          "clip with no edit; and the attacker's reading of the scrubbed face changing side "
          f"between consecutive frames (flips per 100 frames, over {', '.join(ATTRIBUTES)}; one-face clips)")
    print("| scenario | mode | source change | no edit | tracked | frame by frame | frame by frame / tracked "
          "| flips tracked | flips frame by frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    singles = [p[0] for p in faces]
    other = faces[0][1 if len(faces[0]) > 1 else 0]
    scenarios = [("pan", {}), ("zoom", {}), ("rotate", {}), ("two_faces", {}), ("three_faces", {}),
                 ("enter_leave", {}), ("pan", {"light": 0.15}), ("pan", {"occluder": True}),
                 ("expressions", {"other": other})]
    ratios = []
    for scenario, extra in scenarios:
        name = scenario + "".join(f", {k}" for k in extra if k != "other")
        clip = tmp / "f.mp4"
        truth = make_clip(clip, scenario, singles * 3, 640, 360, frames, **dict(extra))
        frame_by_frame(scrubber, clip, tmp / "n.mp4", "invert", edit=no_edit)
        floor = clip_flicker(clip, tmp / "n.mp4", truth)["edit_change"]
        for mode in ("invert", "obfuscate"):
            report = run(scrubber, clip, tmp / "t.mp4", mode, judge_every=1, quality=FLICKER_QUALITY)
            photos = frame_by_frame(scrubber, clip, tmp / "p.mp4", mode)
            tracked, alone = clip_flicker(clip, tmp / "t.mp4", truth), clip_flicker(clip, tmp / "p.mp4", truth)
            if not tracked["edit_change"] or alone["edit_change"] is None:
                print(f"| {name} | {mode} | no face on two frames in a row | | | | | | |")
                continue
            ratio = alone["edit_change"] / tracked["edit_change"]
            ratios.append(ratio)
            single = len(report["people"]) == 1 and len(truth[0]) == 1
            per_100 = 100.0 / (frames - 1) / len(ATTRIBUTES)
            flips = (f"{sum(report['people'][0]['attacker_flips'].values()) * per_100:.1f} | "
                     f"{sum(reading_flips(photos, ATTRIBUTES).values()) * per_100:.1f}") if single else "– | –"
            print(f"| {name} | {mode} | {tracked['source_change']:.2f} | {floor:.2f} | {tracked['edit_change']:.2f} | "
                  f"{alone['edit_change']:.2f} | {ratio:.2f} | {flips} |")
    print(f"\ngeometric mean of the ratios: {float(np.exp(np.mean(np.log(ratios)))):.2f}")


def steady(scrubber, faces, frames: int, tmp: Path) -> None:
    from infoscrub.video.compare import clip_flicker

    print("\n## The steady edit: --steady SIGMA (frames), flicker as above, frame by frame beside")
    print("| scenario | mode | frame by frame | " + " | ".join(f"steady {s:g}" for s in STEADY) + " |")
    print("|---|---|---|" + "---|" * len(STEADY))
    other = faces[0][1 if len(faces[0]) > 1 else 0]
    for scenario, extra in (("pan", {}), ("rotate", {}), ("enter_leave", {}), ("expressions", {"other": other})):
        clip = tmp / "s.mp4"
        truth = make_clip(clip, scenario, [p[0] for p in faces] * 3, 640, 360, frames, **dict(extra))
        for mode in ("invert", "obfuscate"):
            frame_by_frame(scrubber, clip, tmp / "s_photos.mp4", mode)
            cells = [f"{clip_flicker(clip, tmp / 's_photos.mp4', truth)['edit_change']:.2f}"]
            for sigma in STEADY:
                run(scrubber, clip, tmp / "s_out.mp4", mode, quality=FLICKER_QUALITY, steady=sigma)
                cells.append(f"{clip_flicker(clip, tmp / 's_out.mp4', truth)['edit_change']:.2f}")
            print(f"| {scenario} | {mode} | " + " | ".join(cells) + " |")


def detect_every(scrubber, faces, frames: int, tmp: Path) -> None:
    from infoscrub.video.compare import clip_flicker
    from infoscrub.video.job import VideoOptions, analyse
    from infoscrub.video.container import probe
    from infoscrub.video.tracks import dense_landmarks
    from infoscrub.edit_request import EditRequest
    from infoscrub.scrubber import Timings

    print("\n## Detection on every k-th frame (tracking between): jitter, flicker, speed (1280x720)")
    print("| scenario | k | landmark jitter (px, 64-px face) | flicker (tracked) | frames/s |")
    print("|---|---|---|---|---|")
    for scenario in ("pan", "zoom", "rotate"):
        clip = tmp / "d.mp4"
        truth = make_clip(clip, scenario, [faces[0][0]], 1280, 720, frames)
        for k in (1, 2, 3, 5):
            request = scrubber.check_request(EditRequest(ATTRIBUTES, "invert"))
            found = analyse(scrubber, clip, probe(clip), VideoOptions(request, detect_every=k), Timings(), None)
            moves = []
            for track in found.tracks:
                dense = dense_landmarks(track, 2.0)
                inside = [truth[f][0] @ np.vstack([dense[f].T, np.ones(5)]) for f in sorted(dense)
                          if truth[f][0] is not None]
                if len(inside) > 1:
                    points = np.stack(inside)  # (T, 2, 5): the landmarks in the face square
                    moves.append(np.abs(np.diff(points, axis=0)).mean())
            report = run(scrubber, clip, tmp / "k.mp4", "invert", k, quality=FLICKER_QUALITY)
            shaking = clip_flicker(clip, tmp / "k.mp4", truth)
            jitter = f"{np.mean(moves):.3f}" if moves else "–"
            print(f"| {scenario} | {k} | {jitter} | {shaking['edit_change']:.2f} | "
                  f"{report['frames_per_second']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--faces", type=Path, default=Path("../shared/data/celeba_aligned_sample"))
    parser.add_argument("--parts", default="speed,flicker,steady,detect")
    args = parser.parse_args()
    from infoscrub.scrubber import Scrubber

    scrubber = Scrubber.load(identity=False)
    faces = people(args.faces if args.faces.exists() else None)
    print(f"faces: {len(faces)} people ({'CelebA sample' if len(faces) > 1 else 'the astronaut'}), "
          f"{args.frames} frames a clip")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        for part in args.parts.split(","):
            parts = {"speed": speed, "flicker": flicker, "steady": steady, "detect": detect_every}
            parts[part](scrubber, faces, args.frames, Path(tmp))
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
