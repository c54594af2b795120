"""Time photos through the whole pipeline, stage by stage, against earlier code in one run.

    .venv/bin/python benchmarks/scrub_photo.py [--size 12mp|1mp] [--repeats 5] [--baseline REV ...]

12mp: skimage's astronaut (public domain) upscaled to 3000x3000 in a 4000x3000 frame; 1mp:
the astronaut at 1000x1000 (the service benchmark's photo). Stages: decode, detect, align,
model, paste, report (the attacker before/after and after sharing), encode, and response
(the JSON + base64 body the service builds for a page). Prints the median of each stage
over the repeats (after one warm-up run) for this tree and for each ``--baseline``
revision (run in a subprocess importing that revision's code), and the ratios.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
from PIL import Image

HERE = Path(__file__).resolve().parent
STAGES = ("decode", "detect", "align", "model", "paste", "report", "encode", "response")


def report_attacker_config():
    """The report attacker ships at width 32 (rounds/round.py)."""
    from infoscrub.models.adversary import AdversaryConfig

    return AdversaryConfig(width=32)


def full_size_scrubber(device: str = "cpu"):
    """The bundled models when installed, else random networks of the production size
    (timing does not depend on the weights). Returns (scrubber, description)."""
    from infoscrub.attributes import DEFAULT_ATTRIBUTES
    from infoscrub.errors import InfoscrubError
    from infoscrub.inference import Attacker, Editor
    from infoscrub.scrubber import Scrubber

    try:
        return Scrubber.load(device=device), "bundled weights"
    except InfoscrubError:
        pass
    from infoscrub.models import (
        GeneratorConfig,
        MixerConfig,
        ObfuscationMixer,
        UNetEditor,
    )
    from infoscrub.models.adversary import build_adversary

    names = list(DEFAULT_ATTRIBUTES)
    editor = Editor(UNetEditor(len(names), GeneratorConfig()), names, "celebahq", 128,
                    mixer=ObfuscationMixer(len(names), MixerConfig()), device=device)
    attacker = Attacker(build_adversary(len(names), report_attacker_config()), names, 128, device)
    return Scrubber(editor, attacker, device=device), "random weights, production sizes"


def test_photo(size: str) -> bytes:
    from skimage import data

    if size == "1mp":
        image = cv2.resize(data.astronaut(), (1000, 1000), interpolation=cv2.INTER_CUBIC)
        quality = 90
    else:
        face = cv2.resize(data.astronaut(), (3000, 3000), interpolation=cv2.INTER_CUBIC)
        image = cv2.copyMakeBorder(face, 0, 0, 500, 500, cv2.BORDER_REFLECT)
        quality = 92
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def measure(size: str, repeats: int, mode: str) -> dict[str, float]:
    from infoscrub.photo_io import decode_photo, encode_photo

    data = test_photo(size)
    scrubber, _ = full_size_scrubber()
    runs: list[dict[str, float]] = []
    for attempt in range(repeats + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        photo = decode_photo(data)
        decoded = time.perf_counter()
        edited, report = scrubber.scrub_photo(photo, ["Male", "Young"], mode=mode)
        scrubbed = time.perf_counter()
        out = encode_photo(edited)
        encoded = time.perf_counter()
        json.dumps({"image": base64.b64encode(out).decode("ascii"), "report": report})
        done = time.perf_counter()
        assert report["faces_found"] == 1, report["faces_found"]
        times = {"decode": decoded - start, **report["timings_s"], "encode": encoded - scrubbed,
                 "response": done - encoded, "total": done - start, "total CPU": time.process_time() - cpu_start}
        if attempt:  # the first run warms up caches and lazy initialisation
            runs.append(times)
    return {stage: statistics.median(r.get(stage, 0.0) for r in runs) for stage in (*STAGES, "total", "total CPU")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["12mp", "1mp"], default="12mp")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mode", choices=["invert", "obfuscate"], default="invert")
    parser.add_argument("--baseline", action="append", default=[], metavar="REV",
                        help="also time this git revision's code (repeatable)")
    parser.add_argument("--threads", type=int, help="torch and OpenCV threads (default: theirs)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # internal: a baseline run
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    if args.json:
        print(json.dumps(measure(args.size, args.repeats, args.mode)))
        return
    sys.path.insert(0, str(HERE))
    from baseline import baseline_env, checkout

    columns = {"this tree": measure(args.size, args.repeats, args.mode)}
    for rev in args.baseline:
        command = [sys.executable, __file__, "--json", "--size", args.size, "--repeats", str(args.repeats),
                   "--mode", args.mode] + (["--threads", str(args.threads)] if args.threads else [])
        result = subprocess.run(command, env=baseline_env(checkout(rev)), capture_output=True, text=True,
                                check=True)
        columns[rev] = json.loads(result.stdout.strip().splitlines()[-1])
    _, source = full_size_scrubber()
    print(f"photo: {args.size}, {len(test_photo(args.size)) / 1e6:.1f} MB JPEG; models: {source}; "
          f"torch threads: {torch.get_num_threads()}; median seconds over {args.repeats} runs")
    names = list(columns)
    print(f"{'stage':<10}" + "".join(f"{n:>14}" for n in names))
    for stage in (*STAGES, "total", "total CPU"):
        print(f"{stage:<10}" + "".join(f"{columns[n][stage]:>14.3f}" for n in names))
    for rev in args.baseline:
        print(f"this tree vs {rev}: {columns[rev]['total'] / columns['this tree']['total']:.2f}x faster end to end, "
              f"{columns[rev]['total CPU'] / columns['this tree']['total CPU']:.2f}x less CPU")


if __name__ == "__main__":
    main()
